"""The HTTP surface of the foundation: health, ping, status, events, JSON errors, mounting, static files."""

import re

import pytest

from conftest import payload_lines, wsgi_call
from cpa_usage import __version__, decode_payload

RECEIVED = 1_790_000_000_000


@pytest.fixture
def service(service_factory):
    """A Service whose workers are not started: the HTTP layer over a real store."""
    return service_factory(start=False, plain=True)


def fill(service, era="v7.2"):
    events = [decode_payload(line, RECEIVED) for line in payload_lines(era)]
    service.store.write_batch(events, [], received=len(events))
    return events


@pytest.mark.parametrize("path", ["/healthz", "/usage/healthz"])
def test_healthz_at_root_and_base(service, path):
    response = wsgi_call(service.app, "GET", path)
    assert response.status == 200 and response.json() == {"status": "ok"}


def test_ping(service):
    assert wsgi_call(service.app, "GET", "/usage/api/v1/ping").json() == {"ok": True, "version": __version__}


def test_status_has_every_documented_field(service):
    fill(service)
    status = wsgi_call(service.app, "GET", "/usage/api/v1/status").json()
    for name in ("mode", "connected", "auth", "last_pop_at", "last_event_at", "last_error", "last_error_at"):
        assert name in status
    assert status["mode"] == "down" and status["connected"] is False and status["auth"] == "unknown"
    assert status["totals"] == {"received": 17, "inserted": 17, "duplicates": 0, "dead_letters": 0,
                                "control_messages": 0, "credential_errors": 0}
    assert status["queue"] == {"addr": "127.0.0.1:8317", "tls": False, "key": "usage"}
    assert status["transport"] == {"setting": "auto", "reason": None}  # nothing chosen yet: not started
    assert status["instances"][0]["base_url"] == "http://127.0.0.1:8317"
    assert "test-mgmt-key" not in str(status)


def test_events_page_newest_first_with_masked_keys(service):
    events = fill(service)
    page = wsgi_call(service.app, "GET", "/usage/api/v1/usage/events?page=1&page_size=5").json()
    assert page["total"] == 17 and page["page"] == 1 and page["page_size"] == 5 and len(page["items"]) == 5
    stamps = [item["ts_ms"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == max(e.ts_ms for e in events)
    newest = page["items"][0]
    assert newest["model"] == "fake-upstream-model"
    assert newest["api_key"] == "test-…ey-1"         # test-client-key-1
    assert newest["source"] == "sk-fa…ream"           # an upstream API key: masked as well
    assert newest["tokens"] == {"input": 12, "cache_read": 0, "cache_write": 0, "output": 5, "reasoning": 0,
                                "unclassified": 0, "total": 17}
    assert newest["timestamp"] == "2026-08-22T09:30:00.123Z"
    assert newest["token_breakdown"] is None and newest["token_quality"] == "complete"
    assert "test-client-key-1" not in str(page) and "sk-fake-upstream" not in str(page)


def test_events_default_page(service):
    fill(service)
    page = wsgi_call(service.app, "GET", "/usage/api/v1/usage/events").json()
    assert (page["page"], page["page_size"], len(page["items"])) == (1, 50, 17)


@pytest.mark.parametrize("query, parameter", [
    ("page=0", "page"), ("page=x", "page"), ("page_size=501", "page_size"), ("page_size=", "page_size"),
    ("colour=red", "colour"),
])
def test_bad_query_parameters_get_400_naming_them(service, query, parameter):
    response = wsgi_call(service.app, "GET", f"/usage/api/v1/usage/events?{query}")
    assert response.status == 400
    assert response.json()["detail"]["parameter"] == parameter


def test_unknown_api_route_is_json_404(service):
    response = wsgi_call(service.app, "GET", "/usage/api/v1/nope")
    assert response.status == 404 and "error" in response.json()


def test_wrong_method_is_json_405(service):
    response = wsgi_call(service.app, "POST", "/usage/api/v1/ping")
    assert response.status == 405 and "error" in response.json()


def test_internal_errors_are_json_500(service, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(service.store, "list_events", broken)
    response = wsgi_call(service.app, "GET", "/usage/api/v1/usage/events")
    assert response.status == 500 and response.json()["error"] == "internal error"
    assert "boom" not in response.body.decode()


def test_outside_the_base_path(service):
    assert wsgi_call(service.app, "GET", "/").headers["location"] == "/usage/"
    assert wsgi_call(service.app, "GET", "/usage").headers["location"] == "/usage/"
    assert wsgi_call(service.app, "GET", "/other").status == 404


def test_root_mount(service_factory):
    svc = service_factory(start=False, plain=True, APP_BASE_PATH="")
    assert wsgi_call(svc.app, "GET", "/api/v1/ping").json()["ok"] is True
    assert wsgi_call(svc.app, "GET", "/healthz").status == 200
    assert b"<title>cpa-usage</title>" in wsgi_call(svc.app, "GET", "/").body


def test_dashboard_and_static_files(service):
    index = wsgi_call(service.app, "GET", "/usage/")
    assert index.status == 200 and index.headers["content-type"].startswith("text/html")
    script = wsgi_call(service.app, "GET", "/usage/static/app.js")
    assert script.status == 200 and "javascript" in script.headers["content-type"]
    assert wsgi_call(service.app, "GET", "/usage/static/missing.js").status == 404
    assert wsgi_call(service.app, "GET", "/usage/static/../cpa_usage.py").status == 404


def test_dead_letters_endpoint(service):
    from cpa_usage import DeadLetter

    service.store.write_batch([], [DeadLetter(RECEIVED, "subscribe", "not JSON: x", b"{oops")], received=1)
    body = wsgi_call(service.app, "GET", "/usage/api/v1/dead-letters").json()
    assert body["total"] == 1
    assert body["items"][0]["reason"] == "not JSON: x" and body["items"][0]["payload"] == "{oops"


def test_openapi_describes_every_route(service):
    document = wsgi_call(service.app, "GET", "/usage/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.") and document["servers"] == [{"url": "/usage"}]
    described = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    app = service.app.app  # the Bottle app behind the base-path mount
    routes = {(route.method, re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", route.rule)) for route in app.routes
              if route.rule.startswith(("/api/", "/healthz", "/metrics"))}
    assert routes and routes <= described, routes - described
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"]["200"]["content"]
            assert content and all(media["schema"] for media in content.values()), (method, path)
