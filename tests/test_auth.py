"""Login, protection, browser safety, secrets and aliases."""

import html
import json
import logging
import re
import urllib.parse

import jwt
import pytest

from conftest import payload_lines, wsgi_call
from cpa_usage import SESSION_COOKIE, decode_payload

PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_service(service_factory):
    """Services on base_env plus ``env``, not started."""
    def make(**env):
        return service_factory(start=False, plain=True, **env)

    return make


@pytest.fixture
def secured(make_service):
    return make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD)


def request(service, method, path, body=None, cookie=None, headers=None, raw=None):
    sent = dict(headers or {})
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    if body is not None and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    if cookie:
        sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return wsgi_call(service.app, method, "/usage/api/v1" + path, data, sent)


def login(service, password=PASSWORD, **headers):
    return request(service, "POST", "/auth/login", {"password": password}, headers=headers)


def cookie_of(response) -> str:
    return response.headers["set-cookie"].split(";")[0].split("=", 1)[1]


def test_auth_off_lets_everyone_in(make_service):
    service = make_service(APP_HOST="127.0.0.1")
    assert request(service, "GET", "/auth/session").json() == {"auth_enabled": False, "signed_in": True,
                                                                "expires_at": None, "key_login_enabled": False,
                                                                "member": None, "tz": "Asia/Shanghai"}
    assert request(service, "GET", "/status").status == 200
    assert login(service).status == 400


def test_every_protected_route_answers_401_json_without_a_session(secured):
    public = {"/api/v1/ping", "/api/v1/auth/session", "/api/v1/auth/login"}
    app = secured.app.app
    checked = 0
    for route in app.routes:
        if not route.rule.startswith("/api/v1") or route.rule in public:
            continue
        path = route.rule.replace("<model:path>", "some/model")[len("/api/v1"):]
        response = request(secured, route.method, path, {} if route.method in ("POST", "PUT") else None)
        assert response.status == 401, (route.method, route.rule)
        assert response.json()["error"] == "sign in first"
        checked += 1
    assert checked >= 20
    for path in public - {"/api/v1/auth/login"}:
        assert request(secured, "GET", path[len("/api/v1"):]).status == 200
    assert wsgi_call(secured.app, "GET", "/usage/").status == 200  # the page itself carries no data
    assert wsgi_call(secured.app, "GET", "/healthz").status == 200


def test_login_sets_a_strict_cookie_and_opens_the_api(secured):
    response = login(secured)
    assert response.status == 200 and response.json()["signed_in"] is True
    attributes = response.headers["set-cookie"].split("; ")
    assert attributes[0].startswith(f"{SESSION_COOKIE}=")
    assert {"Path=/usage", "Max-Age=604800", "HttpOnly", "SameSite=Strict"} <= set(attributes)
    assert "Secure" not in attributes
    token = cookie_of(response)
    assert request(secured, "GET", "/status", cookie=token).status == 200
    session = request(secured, "GET", "/auth/session", cookie=token).json()
    assert session["auth_enabled"] and session["signed_in"] and session["expires_at"]


def session_in_page(service, cookie=None):
    """The session's answer the dashboard's page carries, and the page's Cache-Control."""
    page = wsgi_call(service.app, "GET", "/usage/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {})
    [content] = re.findall(r'<meta name="cpa-usage-session" content="([^"]*)">', page.body.decode())
    return json.loads(html.unescape(content)), page.headers["cache-control"]


def test_the_dashboards_page_carries_its_viewers_session(secured):
    """The page knows who is there without asking: the answer of /auth/session for the same
    cookie, escaped for the attribute, and the page private to that viewer."""
    assert session_in_page(secured) == (request(secured, "GET", "/auth/session").json(), "private, no-cache")
    assert session_in_page(secured)[0]["signed_in"] is False
    token = cookie_of(login(secured))
    answer, _ = session_in_page(secured, token)
    assert answer == request(secured, "GET", "/auth/session", cookie=token).json() and answer["signed_in"] is True
    assert answer["tz"] == "Asia/Shanghai"  # "/" and "+" and the like survive the attribute's escaping


def test_secure_cookie_behind_a_trusted_https_proxy(make_service):
    """X-Forwarded-Proto counts from TRUSTED_PROXIES only (the test peer is 127.0.0.1)."""
    behind = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD, TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")
    assert "Secure" in login(behind, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"].split("; ")
    assert "Secure" not in login(behind).headers["set-cookie"].split("; ")
    open_to_all = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD)
    assert "Secure" not in login(open_to_all, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"].split("; ")


def test_behind_a_trusted_proxy_the_login_limit_counts_the_client(make_service):
    service = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD, TRUSTED_PROXIES="127.0.0.1")
    for _ in range(5):  # a guesser behind the proxy
        assert login(service, password="wrong", **{"X-Forwarded-For": "203.0.113.7"}).status == 401
    assert login(service, **{"X-Forwarded-For": "203.0.113.7"}).status == 429
    assert login(service, **{"X-Forwarded-For": "198.51.100.2"}).status == 200  # the owner, elsewhere
    # a client cannot put a trusted proxy in front of itself: the right-most untrusted address counts
    assert login(service, **{"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}).status == 429
    untrusted = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD)
    for forwarded in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"):
        assert login(untrusted, password="wrong", **{"X-Forwarded-For": forwarded}).status == 401
    assert login(untrusted, **{"X-Forwarded-For": "192.0.2.6"}).status == 429  # the peer counts, not the header


def test_a_global_cap_on_failed_logins(make_service):
    """However many addresses a guesser has: 30 failures a minute in all."""
    service = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD, TRUSTED_PROXIES="127.0.0.1")
    for i in range(30):
        assert login(service, password="wrong", **{"X-Forwarded-For": f"203.0.113.{i}"}).status == 401
    capped = login(service, **{"X-Forwarded-For": "198.51.100.2"})
    assert capped.status == 429 and 1 <= int(capped.headers["retry-after"]) <= 60
    real_clock = service.auth.clock
    service.auth.clock = lambda: real_clock() + 61
    assert login(service, **{"X-Forwarded-For": "198.51.100.2"}).status == 200


def test_wrong_password_is_401_and_logged_without_the_password(secured, caplog):
    with caplog.at_level(logging.INFO):
        response = login(secured, password="hunter2-not-it")
    assert response.status == 401 and "set-cookie" not in response.headers
    assert "failed login" in caplog.text and "hunter2-not-it" not in caplog.text


def test_expired_foreign_and_tampered_tokens_are_refused(secured):
    token = cookie_of(login(secured))
    assert request(secured, "GET", "/status", cookie=token).status == 200
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    assert request(secured, "GET", "/status", cookie=tampered).status == 401
    foreign = jwt.encode({"sub": "owner", "iat": 0, "exp": 2**40}, "another key, 32 bytes or longer!", algorithm="HS256")
    assert request(secured, "GET", "/status", cookie=foreign).status == 401
    unsigned = jwt.encode({"sub": "owner", "iat": 0, "exp": 2**40}, None, algorithm="none")
    assert request(secured, "GET", "/status", cookie=unsigned).status == 401
    real_clock = secured.auth.clock
    secured.auth.clock = lambda: real_clock() + 7 * 86400 + 1  # AUTH_SESSION_TTL later
    assert request(secured, "GET", "/status", cookie=token).status == 401


def test_a_new_password_ends_old_sessions(make_service):
    first = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD)
    token = cookie_of(login(first))
    same = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD)  # a restart: the key is kept
    assert request(same, "GET", "/status", cookie=token).status == 200
    changed = make_service(AUTH_ENABLED="true", LOGIN_PASSWORD="a different one")
    assert request(changed, "GET", "/status", cookie=token).status == 401


def test_failed_logins_are_limited_per_address(secured):
    for _ in range(5):
        assert login(secured, password="wrong").status == 401
    limited = login(secured)  # even the right password waits
    assert limited.status == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    other = request(secured, "POST", "/auth/login", {"password": PASSWORD}, headers={})
    assert other.status == 429  # the same test address
    real_clock = secured.auth.clock
    secured.auth.clock = lambda: real_clock() + 61
    assert login(secured).status == 200


def test_logout_ends_the_session_everywhere(secured):
    token, other = cookie_of(login(secured)), cookie_of(login(secured))
    response = request(secured, "POST", "/auth/logout", {}, cookie=token)
    assert response.status == 200 and "Max-Age=0" in response.headers["set-cookie"]
    assert request(secured, "GET", "/status", cookie=token).status == 401  # a kept copy of the cookie is dead
    assert request(secured, "GET", "/status", cookie=other).status == 200  # another session is not


def test_state_changing_routes_take_only_json(secured):
    form = request(secured, "POST", "/auth/login", raw=b"password=x",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415
    token = cookie_of(login(secured))
    for method, path in (("PUT", "/pricing/m"), ("POST", "/sync"), ("PUT", "/aliases"),
                         ("POST", "/aliases/import"), ("POST", "/cpa/usage-statistics")):
        response = request(secured, method, path, raw=b"a=1", cookie=token,
                           headers={"Content-Type": "text/plain"})
        assert response.status == 415, path


def test_security_headers(make_service):
    service = make_service()
    page = wsgi_call(service.app, "GET", "/usage/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    for response in (page, request(service, "GET", "/ping"), wsgi_call(service.app, "GET", "/elsewhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    html = page.body.decode()
    assert "<script>" not in html and "onclick" not in html  # no inline script for the CSP to allow


def test_exposure_warning(make_service):
    assert make_service(APP_HOST="0.0.0.0").status_report()["warnings"]
    assert make_service(APP_HOST="127.0.0.1").status_report()["warnings"] == []
    assert make_service(APP_HOST="0.0.0.0", AUTH_ENABLED="true",
                        LOGIN_PASSWORD=PASSWORD).status_report()["warnings"] == []


def test_no_secret_in_status_logs_or_errors(make_service, caplog):
    with caplog.at_level(logging.DEBUG):
        service = make_service(CPA_MANAGEMENT_KEY="mgmt-secret-4242", AUTH_ENABLED="true",
                               LOGIN_PASSWORD="login-secret-4242")
        login(service, password="login-secret-4242-wrong")
        token = cookie_of(login(service, password="login-secret-4242"))
        status = request(service, "GET", "/status", cookie=token).body.decode()
        events = [decode_payload(line, 1_790_000_000_000) for line in payload_lines("v7.2")]
        service.store.write_batch(events, [], received=len(events))
        listed = request(service, "GET", "/usage/events?page_size=500", cookie=token).body.decode()
        filters = request(service, "GET", "/usage/events/filters", cookie=token).body.decode()
        analysis = request(service, "GET", "/usage/analysis?range=all&group=api", cookie=token).body.decode()
    for text in (status, caplog.text):
        assert "mgmt-secret-4242" not in text and "login-secret-4242" not in text
    for text in (listed, filters, analysis):  # client keys and upstream keys are masked outside /aliases
        for secret in ("sk-team-alpha-7f3c", "sk-ci-runner-19ab", "test-client-key-1",
                       "AIzaSyFAKE-gemini-key-0001", "sk-or-v1-FAKE0000000000000000000000000000b780"):
            assert secret not in text


# -- aliases -------------------------------------------------------------------------------


@pytest.fixture
def with_events(make_service):
    service = make_service()
    events = [decode_payload(line, 1_790_000_000_000) for line in payload_lines("v7.2")]
    service.store.write_batch(events, [], received=len(events))
    return service


def test_aliases_list_every_key_seen_unmasked(with_events):
    items = request(with_events, "GET", "/aliases").json()["items"]
    assert [(i["api_key"], i["requests"]) for i in items] == [
        ("", 1), ("sk-ci-runner-19ab", 5), ("sk-team-alpha-7f3c", 10), ("test-client-key-1", 1)]
    assert all(i["alias"] is None for i in items) and items[1]["first_seen"] and items[1]["last_seen"]


def test_put_and_delete_an_alias_and_see_it_everywhere(with_events):
    assert request(with_events, "PUT", "/aliases", {"api_key": "sk-team-alpha-7f3c", "alias": " Team Alpha "}
                   ).json() == {"api_key": "sk-team-alpha-7f3c", "alias": "Team Alpha"}
    analysis = request(with_events, "GET", "/usage/analysis?range=all&group=api").json()["items"]
    assert {i["api_key"]: i["alias"] for i in analysis}["sk-te…7f3c"] == "Team Alpha"
    event = request(with_events, "GET", "/usage/events?api_key=Team Alpha&page_size=1").json()["items"][0]
    assert event["api_key_alias"] == "Team Alpha"
    assert request(with_events, "DELETE", "/aliases?api_key=sk-team-alpha-7f3c").status == 200
    assert request(with_events, "DELETE", "/aliases?api_key=sk-team-alpha-7f3c").status == 404
    assert request(with_events, "PUT", "/aliases", {"api_key": "k", "alias": ""}).status == 400
    assert request(with_events, "PUT", "/aliases", {"api_key": "k"}).status == 400


def test_a_filter_of_other_characters_than_ascii_matches(with_events):
    """Query values are read as the UTF-8 that browsers and curl send (WSGI hands them
    over as Latin-1): a Chinese alias filters by its key; bytes that are no UTF-8 are a 400."""
    request(with_events, "PUT", "/aliases", {"api_key": "sk-team-alpha-7f3c", "alias": "阿尔法组"})
    answer = request(with_events, "GET", f"/usage/events?api_key={urllib.parse.quote('阿尔法组')}&page_size=1").json()
    assert answer["total"] == 10 and answer["items"][0]["api_key_alias"] == "阿尔法组"
    refused = request(with_events, "GET", "/usage/events?api_key=%FF")
    assert (refused.status, refused.json()["error"], refused.json()["detail"]) == (
        400, "the query is not UTF-8", {"parameter": "api_key"})


def test_export_and_import(with_events):
    request(with_events, "PUT", "/aliases", {"api_key": "sk-team-alpha-7f3c", "alias": "Alpha"})
    request(with_events, "PUT", "/aliases", {"api_key": "sk-ci-runner-19ab", "alias": "CI"})
    exported = request(with_events, "GET", "/aliases/export").json()
    assert exported["version"] == 1 and exported["aliases"] == [
        {"api_key": "sk-ci-runner-19ab", "alias": "CI"}, {"api_key": "sk-team-alpha-7f3c", "alias": "Alpha"}]
    document = {"version": 1, "aliases": [{"api_key": "sk-ci-runner-19ab", "alias": "CI"},
                                          {"api_key": "sk-team-alpha-7f3c", "alias": "Team A"},
                                          {"api_key": "new-key", "alias": "New"}]}
    merged = request(with_events, "POST", "/aliases/import?mode=merge", document).json()
    assert (merged["added"], merged["updated"], merged["unchanged"], merged["removed"]) == (1, 1, 1, 0)
    replaced = request(with_events, "POST", "/aliases/import?mode=replace",
                       {"version": 1, "aliases": [{"api_key": "new-key", "alias": "New"}]}).json()
    assert (replaced["added"], replaced["updated"], replaced["unchanged"], replaced["removed"]) == (0, 0, 1, 2)
    assert with_events.store.aliases() == {"new-key": "New"}


@pytest.mark.parametrize("document", [
    {"version": 2, "aliases": []},
    {"aliases": []},
    {"version": 1, "aliases": [{"api_key": "a", "alias": "A"}, {"api_key": "b", "alias": ""}]},
    {"version": 1, "aliases": [{"api_key": "a", "alias": "A"}, {"api_key": "a", "alias": "B"}]},
    {"version": 1, "aliases": ["a"]},
])
def test_an_invalid_import_changes_nothing(with_events, document):
    request(with_events, "PUT", "/aliases", {"api_key": "keep", "alias": "Kept"})
    assert request(with_events, "POST", "/aliases/import?mode=replace", document).status == 400
    assert with_events.store.aliases() == {"keep": "Kept"}
