"""Metadata sync against the fake CPA: every list fetched and kept, the last good copy
kept on failure, one key gate for the drain and the sync, {"refresh":true} syncs at
once, and the usage-statistics switch that decides whether CPA records anything."""

import json

import pytest

from backends import wait_for
from conftest import wsgi_call
from cpa_usage import METADATA_LISTS


@pytest.fixture
def make_service(service_factory):
    """Services against a fake CPA with its own key by default, not started unless asked."""
    def make(cpa, key=None, start=False, **env):
        return service_factory(cpa.url, key=key or cpa.key, start=start, **env)

    return make


def api(service, method, path, body=None, status=200):
    data = b"" if body is None else json.dumps(body).encode()
    response = wsgi_call(service.app, method, "/usage/api/v1" + path, data,
                         {"Content-Type": "application/json"} if body is not None else {})
    assert response.status == status, response.body[:400]
    return response.json()


def test_a_sync_fetches_and_keeps_every_list(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa)
    results = api(service, "POST", "/sync", {})["results"]
    # meta-api-key is a v8 list: a 7.2.140 CPA does not have it, which is no failure
    assert results == {**{spec.name: "ok" for spec in METADATA_LISTS}, "meta-api-key": "absent",
                       "usage-statistics-enabled": "ok", "queue-retention": "ok", "models": "ok"}
    paths = [r.path for r in cpa.http_requests]
    assert {f"/v0/management/{spec.name}" for spec in METADATA_LISTS} <= set(paths)
    models_request = next(r for r in cpa.http_requests if r.path == "/v1/models")
    assert models_request.headers["Authorization"] == "Bearer test-client-key-1"  # a client key, not the management key
    management = [r for r in cpa.http_requests if r.path.startswith("/v0/management/")]
    assert all(r.headers["Authorization"] == f"Bearer {cpa.key}" for r in management)
    status = api(service, "GET", "/status")
    assert status["metadata"]["last_error"] is None and status["metadata"]["last_success_at"]
    assert status["metadata"]["absent"] == ["meta-api-key"]
    assert status["cpa"]["version"] == cpa.version and status["cpa"]["usage_statistics_enabled"] is True
    assert status["cpa"]["fix"] is None and status["cpa"]["management_api"] == "v0"
    assert status["cpa"]["queue_retention_s"] == 60 and status["queue_retention_s"] == 60


def test_auth_files_carry_their_usage(fake_cpa, make_service):
    from cpa_usage import decode_payload
    from conftest import payload_lines

    cpa = fake_cpa()
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    events = [decode_payload(line, 1_790_000_000_000) for line in payload_lines("v7.2")]
    service.store.write_batch(events, [], received=len(events))
    body = api(service, "GET", "/auth-files?range=all")
    by_index = {item["auth_index"]: item for item in body["items"]}
    assert by_index["3f9a1c0e7b2d4a61"]["usage"] == {"requests": 5, "failed": 0}  # alice, five v7.2 records
    assert body["fetched_at"] is not None and body["range"]["name"] == "all"


def test_provider_keys_are_masked(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    body = api(service, "GET", "/provider-metadata")
    text = json.dumps(body)
    for secret in ("AIzaSyFAKE-gemini-key-0001", "sk-ant-api03-FAKE-claude-key-xyz",
                   "sk-or-v1-FAKE0000000000000000000000000000b780"):
        assert secret not in text
    assert body["providers"]["gemini-api-key"][0]["api-key"] == "AIzaS…0001"
    assert body["providers"]["openai-compatibility"][0]["api-key-entries"][0]["auth-index"]


def test_models_used_joins_cpa_and_events(fake_cpa, make_service):
    from cpa_usage import decode_payload
    from conftest import payload_lines

    cpa = fake_cpa()
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    service.store.write_batch([decode_payload(payload_lines("v7.2")[16], 1_790_000_000_000)], [], received=1)
    items = {item["model"]: item for item in api(service, "GET", "/models/used")["items"]}
    offered = {m["id"] for m in cpa.models}
    assert offered <= set(items)
    some = sorted(offered)[0]
    assert items[some]["in_cpa"] and not items[some]["in_events"] and items[some]["requests"] == 0
    seen = items["fake-upstream-model"]
    assert seen["in_events"] and seen["requests"] == 1 and seen["priced"] is False
    assert items["gpt-5.4"]["priced"] and items["gpt-5.4"]["price_source"] == "default"


def test_a_failing_list_keeps_its_last_good_copy(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    before = service.store.get_metadata("claude-api-key")
    cpa.provider_keys["claude-api-key"] = "garbage"  # an answer that is not a list
    results = api(service, "POST", "/sync", {})["results"]
    assert results["claude-api-key"] == "unexpected answer from /v0/management/claude-api-key"
    assert results["auth-files"] == "ok"
    assert service.store.get_metadata("claude-api-key") == before and before[1]
    status = api(service, "GET", "/status")["metadata"]
    assert "claude-api-key" in status["last_error"] and status["last_error_at"]


@pytest.mark.parametrize("version", ["7.2.72", "7.2.50"])
def test_a_list_older_cpas_lack_is_no_failure(fake_cpa, make_service, version):
    """The xAI list exists since v7.2.73, interactions since v7.2.51: before, CPA answers 404."""
    cpa = fake_cpa(version=version)
    service = make_service(cpa)
    results = api(service, "POST", "/sync", {})["results"]
    lacking = {"xai-api-key", "meta-api-key"} | ({"interactions-api-key"} if version < "7.2.51" else set())
    assert {name for name, result in results.items() if result == "absent"} == lacking
    assert all(result == "ok" for name, result in results.items() if name not in lacking)
    status = api(service, "GET", "/status")["metadata"]
    assert status["last_error"] is None and status["last_success_at"] and sorted(status["absent"]) == sorted(lacking)
    assert service.store.get_metadata("xai-api-key")[1] == []


def test_cpa_down_keeps_every_last_good_copy(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    files = service.store.get_metadata("auth-files")
    cpa.stop()
    results = api(service, "POST", "/sync", {})["results"]
    assert all(result != "ok" for result in results.values())
    assert service.store.get_metadata("auth-files") == files


def test_one_rejected_key_pauses_drain_and_sync_together(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa, key="wrong-key", start=True)
    wait_for(lambda: service.gate.state == "rejected", what="the rejection")
    wait_for(lambda: service.metadata.last_error or service.status.last_error, what="the first one told")
    assert cpa.failed_attempts_total() == 1
    body = api(service, "POST", "/sync", {}, status=409)
    assert "invalid management key" in body["detail"]["reason"]
    assert cpa.failed_attempts_total() == 1  # a click on "sync" does not spend another attempt


def test_refresh_from_cpa_syncs_at_once(fake_cpa, make_service):
    cpa = fake_cpa()
    make_service(cpa, start=True, METADATA_SYNC_INTERVAL="1h")

    def syncs():
        return sum(1 for r in cpa.http_requests if r.path == "/v0/management/auth-files")

    wait_for(lambda: syncs() == 1, what="the first sync")
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.publish_refresh()
    wait_for(lambda: syncs() == 2, what="a sync after {'refresh': true}")


def test_usage_statistics_off_is_reported_and_can_be_turned_on(fake_cpa, make_service):
    cpa = fake_cpa(usage_statistics_enabled=False)
    service = make_service(cpa)
    api(service, "POST", "/sync", {})
    cpa_status = api(service, "GET", "/status")["cpa"]
    assert cpa_status["usage_statistics_enabled"] is False and "usage-statistics-enabled" in cpa_status["fix"]
    assert api(service, "POST", "/cpa/usage-statistics", {"enabled": True}) == {
        "usage_statistics_enabled": True, "instances": {service.config.cpas[0].name: True}}
    assert cpa.usage_statistics_enabled is True
    assert api(service, "GET", "/status")["cpa"]["fix"] is None
    api(service, "POST", "/cpa/usage-statistics", {"enabled": "yes"}, status=400)


def test_sync_needs_a_json_body(fake_cpa, make_service):
    service = make_service(fake_cpa())
    response = wsgi_call(service.app, "POST", "/usage/api/v1/sync", b"", {"Content-Type": "text/plain"})
    assert response.status == 415
