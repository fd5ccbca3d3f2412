"""A shared CPA: members sign in with their own client key and see only that key's
usage (tried every way an attacker would); budgets per key in TZ periods (across a
DST change); alerts recorded once and sent to a webhook with retries; idle keys."""

import base64
import csv
import datetime as dt
import http.server
import io
import json
import re
import threading

import jwt
import pytest

from conftest import base_env, encode, record, wsgi_call
from cpa_usage import (DAY_MS, HOUR_MS, OWNER, SESSION_COOKIE, Alerts, ConfigError, Service, Store,
                       decode_payload, load_config)
from test_auth import PASSWORD, cookie_of, request

ALPHA, BETA, IDLE = "sk-alpha-0000000000000001", "sk-beta-00000000000000002", "sk-idle-00000000000000003"
NEW_YORK_DST_DAY = "2026-03-08"
GUESSED = "a-guessed-signing-secret-of-32-bytes!"  # 23 hours long: 02:00 EST jumps to 03:00 EDT


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def usage(stamp: str, key: str, source="alice@example.com", model="budget-model", failed=False, inp=1_000_000,
          out=0):
    """One event whose cost is known exactly with the test price (1 USD per 1M input, 2 per 1M output)."""
    return decode_payload(encode(record(
        timestamp=stamp, request_id=f"{key}-{stamp}", api_key=key, source=source, model=model, failed=failed,
        provider="codex", executor_type="codex", token_breakdown=None, accounting_version=None,
        access_token_sha256="5f9c0e1d" * 8, response_headers={"X-Ratelimit-Remaining-Tokens": ["40000"]},
        tokens={"input_tokens": inp, "output_tokens": out, "reasoning_tokens": 0, "cached_tokens": 0,
                "total_tokens": inp + out})), ms(stamp))


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A shared CPA's cpa-usage: two members' keys with usage, an idle key, login by key on."""
    monkeypatch.chdir(tmp_path)
    services = []

    def make(now="2026-03-08T20:00:00Z", **env):
        config = load_config(base_env(tmp_path, **{"AUTH_ENABLED": "true", "LOGIN_PASSWORD": PASSWORD,
                                                   "KEY_LOGIN_ENABLED": "true", "TZ": "America/New_York", **env}))
        service = Service(config)
        services.append(service)
        service.analytics.clock = lambda: ms(now)
        service.store.put_metadata("api-keys", [ALPHA, BETA, IDLE])
        service.store.upsert_prices([("budget-model", 0, 1.0, 2.0, 0.0, 0.0, None, *Store.NO_LONG_CONTEXT, "")])
        service.pricing.reload()
        service.store.write_batch([
            usage("2026-03-08T10:00:00Z", ALPHA), usage("2026-03-08T11:00:00Z", ALPHA, failed=True),
            usage("2026-03-08T12:00:00Z", ALPHA, source="sk-upstream-secret-key-123456"),
            usage("2026-03-08T10:30:00Z", BETA, source="bob@example.com"),
            usage("2026-03-08T13:00:00Z", BETA, source="bob@example.com", model="other-model"),
        ], [], received=5)
        service.store.set_aliases({ALPHA: "alice", BETA: "bob"}, replace=False)
        return service

    yield make
    for service in services:
        service.store.close()


def member_cookie(service, key=ALPHA) -> str:
    answer = request(service, "POST", "/auth/login", {"api_key": key})
    assert answer.status == 200, answer.body
    return cookie_of(answer)


def owner_cookie(service) -> str:
    return cookie_of(request(service, "POST", "/auth/login", {"password": PASSWORD}))


# -- key login -----------------------------------------------------------------------------

def test_a_member_signs_in_with_their_cpa_key(shared):
    service = shared()
    answer = request(service, "POST", "/auth/login", {"api_key": ALPHA})
    assert answer.status == 200 and answer.json()["member"]["alias"] == "alice"
    assert ALPHA not in answer.headers["set-cookie"]  # the claim names the key by its id only
    session = request(service, "GET", "/auth/session", cookie=cookie_of(answer)).json()
    assert session["signed_in"] and session["member"] == {"api_key": "sk-al…0001",
                                                          "api_key_id": session["member"]["api_key_id"],
                                                          "alias": "alice"}
    assert request(service, "POST", "/auth/login", {"api_key": "sk-not-a-key"}).status == 401


def test_key_logins_share_the_login_limit(shared):
    service = shared()
    for _ in range(5):
        assert request(service, "POST", "/auth/login", {"api_key": "sk-guess"}).status == 401
    assert request(service, "POST", "/auth/login", {"password": PASSWORD}).status == 429
    assert request(service, "POST", "/auth/login", {"api_key": ALPHA}).status == 429


def test_key_login_needs_login_and_can_be_off(tmp_path, shared):
    with pytest.raises(ConfigError, match="KEY_LOGIN_ENABLED=true needs AUTH_ENABLED=true"):
        load_config(base_env(tmp_path, KEY_LOGIN_ENABLED="true"))
    service = shared(KEY_LOGIN_ENABLED="false")
    assert request(service, "POST", "/auth/login", {"api_key": ALPHA}).status == 401  # not a password


# -- the scope, tried every way -------------------------------------------------------------

def get(service, path, cookie):
    answer = request(service, "GET", path, cookie=cookie)
    assert answer.status == 200, (path, answer.status, answer.body)
    return answer.json()


@pytest.mark.parametrize("asked", ["", "&api_key=bob", f"&api_key={BETA}", "&api_key=BETA_ID", "&model=other-model"])
def test_every_usage_answer_is_the_members_own_whatever_is_asked(shared, asked):
    service = shared()
    cookie = member_cookie(service)
    asked = asked.replace("BETA_ID", service.analytics.named("api_key", BETA)["api_key_id"])
    overview = get(service, f"/usage/overview?range=24h{asked}", cookie)
    expected = 0 if "other-model" in asked else 3
    assert overview["summary"]["requests"] == expected
    assert sum(cell["requests"] for cell in overview["health_grid"]) == expected
    for group in ("api", "model", "both"):
        items = get(service, f"/usage/analysis?range=24h&group={group}{asked}", cookie)["items"]
        assert sum(item["requests"] for item in items) == expected
        assert all(item.get("alias", "alice") == "alice" for item in items)
    events = get(service, f"/usage/events?range=24h{asked}", cookie)
    assert events["total"] == expected and all(e["api_key_alias"] == "alice" for e in events["items"])
    assert all(e["source"] is None and e["auth_index"] is None for e in events["items"])
    assert all(e["access_token_sha256"] is None and e["response_headers"] is None for e in events["items"])
    filters = get(service, f"/usage/events/filters?range=24h{asked}", cookie)
    assert [k["alias"] for k in filters["api_keys"]] == (["alice"] if expected else [])
    assert filters["sources"] == [] and filters["auth_indexes"] == []
    latency = get(service, f"/usage/latency?range=24h{asked}", cookie)
    assert latency["summary"]["latency"]["count"] == expected and latency["credentials"] is None
    assert [m["model"] for m in latency["models"]] == (["budget-model"] if expected else [])
    year = get(service, f"/usage/health?{asked.lstrip('&')}", cookie)["year"]
    assert sum(cell["requests"] for cell in year) == expected
    exported = request(service, "GET", f"/usage/events/export?range=24h&format=csv{asked}", cookie=cookie)
    rows = list(csv.DictReader(io.StringIO(exported.body.decode())))
    assert len(rows) == expected and {r["source"] for r in rows} <= {""} and {r["auth_index"] for r in rows} <= {""}
    analysis = request(service, "GET", f"/usage/analysis/export?range=24h&group=api{asked}", cookie=cookie)
    assert sum(int(r["requests"]) for r in csv.DictReader(io.StringIO(analysis.body.decode()))) == expected
    text = json.dumps([overview, events, filters, latency]) + exported.body.decode() + analysis.body.decode()
    for secret in ("bob", BETA, "sk-upstream-secret", "alice@example.com", "bob@example.com"):
        assert secret not in text


@pytest.mark.parametrize("path", ["/usage/overview?source=bob@example.com", "/usage/events?auth_index=x",
                                  "/usage/latency?source=bob@example.com",
                                  "/usage/events/export?format=jsonl"])
def test_credential_filters_and_the_lossless_export_are_refused(shared, path):
    service = shared()
    answer = request(service, "GET", path, cookie=member_cookie(service))
    assert answer.status == 403 and answer.json()["detail"] == {"member": True}


def test_every_owner_route_answers_403_to_a_member(shared):
    service = shared()
    cookie = member_cookie(service)
    checked = 0
    for route in service.app.app.routes:
        if route.config["access"] != OWNER:
            continue
        path = re.sub(r"<[^>]+>", "gpt-5.4", route.rule)[len("/api/v1"):]
        answer = request(service, route.method, path, {} if route.method in ("POST", "PUT") else None, cookie=cookie)
        assert answer.status == 403, (route.method, route.rule, answer.status)
        checked += 1
    assert checked >= 20
    assert request(service, "GET", "/aliases", cookie=owner_cookie(service)).status == 200  # the owner still can
    assert wsgi_call(service.app, "GET", "/usage/metrics", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}).status \
        == 401


def test_forged_or_stale_member_sessions_are_refused(shared):
    service = shared()
    cookie = member_cookie(service)
    claims = jwt.decode(cookie, options={"verify_signature": False})
    forged = [
        jwt.encode({**claims, "sub": "owner"}, GUESSED, algorithm="HS256"),  # wrong key
        cookie.rsplit(".", 1)[0].rsplit(".", 1)[0] + "." + jwt.utils.base64url_encode(  # claims changed, same signature
            json.dumps({**claims, "sub": "owner"}).encode()).decode() + "." + cookie.rsplit(".", 1)[1],
        jwt.encode({**claims, "sub": "owner"}, None, algorithm="none"),
        jwt.encode({**claims, "kid": service.store.fingerprint(BETA, 32)}, GUESSED, algorithm="HS256"),
    ]
    for token in forged:
        assert request(service, "GET", "/usage/overview", cookie=token).status == 401, token
    service.store.put_metadata("api-keys", [BETA])  # the owner removed alice's key from CPA
    assert request(service, "GET", "/usage/overview", cookie=cookie).status == 401


# -- budgets ----------------------------------------------------------------------------------

def test_budget_spend_follows_local_days_across_dst(shared):
    # 2026-03-08 in New York runs from 05:00Z to 04:00Z the next day (23 hours)
    service = shared(now="2026-03-09T03:30:00Z")
    service.store.write_batch([
        usage("2026-03-08T04:59:59Z", ALPHA, inp=500_000),   # 23:59:59 EST on the 7th: yesterday
        usage("2026-03-09T03:59:59Z", ALPHA, out=250_000),   # 23:59:59 EDT on the 8th: today ($1.5)
        usage("2026-03-09T04:00:00Z", ALPHA, inp=4_000_000),  # 00:00 EDT on the 9th: tomorrow
        usage("2026-02-28T12:00:00Z", ALPHA, inp=7_000_000),  # last month
    ], [], received=4)
    owner = owner_cookie(service)
    answer = request(service, "PUT", "/budgets", {"api_key": "alice", "daily_usd": 4.0, "monthly_tokens": 10_000_000},
                     cookie=owner)
    assert answer.status == 200, answer.body
    daily, monthly = answer.json()["daily"], answer.json()["monthly"]
    assert daily["period"] == NEW_YORK_DST_DAY and daily["start"] == "2026-03-08T05:00:00.000Z"
    assert daily["end"] == "2026-03-09T04:00:00.000Z"
    # today: the three fixture events (1M input each, $1) and the 23:59:59 one ($0.5 of output + $1 input)
    assert daily["usd"] == {"spent": 4.5, "limit": 4.0, "ratio": 1.125}
    assert monthly["period"] == "2026-03" and monthly["start"] == "2026-03-01T05:00:00.000Z"
    assert monthly["tokens"] == {"spent": 500_000 + 3_000_000 + 1_250_000 + 4_000_000, "limit": 10_000_000,
                                 "ratio": 0.875}
    assert get(service, f"/usage/overview?range=today&api_key={ALPHA}", owner)["budget"]["daily"]["usd"]["spent"] == 4.5
    member = member_cookie(service)
    mine = get(service, "/budgets", member)["items"]
    assert [b["alias"] for b in mine] == ["alice"]
    assert get(service, "/usage/overview?range=today", member)["budget"]["daily"]["usd"]["ratio"] == 1.125
    assert get(service, "/budgets", member_cookie(service, BETA))["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"api_key": ALPHA, "daily_usd": -1}, "daily_usd"), ({"api_key": ALPHA, "daily_tokens": 1.5}, "daily_tokens"),
    ({"api_key": ALPHA, "weekly_usd": 1}, "weekly_usd"), ({"api_key": ALPHA}, None), ({"daily_usd": 1}, "api_key"),
])
def test_budget_input_is_checked(shared, body, field):
    service = shared()
    answer = request(service, "PUT", "/budgets", body, cookie=owner_cookie(service))
    assert answer.status == 400
    assert answer.json()["detail"].get("field") == field
    assert service.store.budgets() == {}


def test_a_key_cpa_lists_but_nobody_used_can_get_a_budget_by_its_id(shared):
    service = shared()
    owner = owner_cookie(service)
    key_id = service.analytics.named("api_key", IDLE)["api_key_id"]
    answer = request(service, "PUT", "/budgets", {"api_key": key_id, "monthly_usd": 10}, cookie=owner)
    assert answer.status == 200 and service.store.budgets() == {IDLE: {
        "daily_usd": None, "monthly_usd": 10, "daily_tokens": None, "monthly_tokens": None}}
    assert request(service, "DELETE", f"/budgets?api_key={key_id}", cookie=owner).status == 200


def test_an_alias_two_keys_share_is_a_conflict_that_names_them(shared):
    """Which key "team" means depends on the aliases stored: a conflict (409) with the
    keys and their ids, not a malformed request; the id then names one."""
    service = shared()
    service.store.set_aliases({ALPHA: "team", BETA: "team"}, replace=False)
    owner = owner_cookie(service)
    answer = request(service, "PUT", "/budgets", {"api_key": "team", "daily_usd": 5}, cookie=owner)
    assert answer.status == 409 and service.store.budgets() == {}
    ids = [key["api_key_id"] for key in answer.json()["detail"]["keys"]]
    assert sorted(ids) == sorted(service.analytics.named("api_key", k)["api_key_id"] for k in (ALPHA, BETA))
    assert request(service, "PUT", "/budgets", {"api_key": ids[0], "daily_usd": 5}, cookie=owner).status == 200


def test_a_members_session_tells_the_time_zone(shared):
    service = shared()
    session = request(service, "GET", "/auth/session", cookie=member_cookie(service)).json()
    assert session["tz"] == "America/New_York" and session["member"]["alias"] == "alice"


def test_a_budget_is_removed_by_key_alias_or_id(shared):
    service = shared()
    owner = owner_cookie(service)
    request(service, "PUT", "/budgets", {"api_key": ALPHA, "daily_usd": 1}, cookie=owner)
    key_id = service.analytics.named("api_key", ALPHA)["api_key_id"]
    assert request(service, "DELETE", f"/budgets?api_key={key_id}", cookie=owner).status == 200
    assert request(service, "DELETE", "/budgets?api_key=alice", cookie=owner).status == 404


# -- alerts -----------------------------------------------------------------------------------

def test_budget_alerts_are_recorded_once_per_period_and_condition(shared):
    service = shared()
    service.store.set_budget(ALPHA, {"daily_usd": 3.5, "monthly_usd": 100.0})
    alerts = Alerts(service.analytics, "", 3.0)
    now = ms("2026-03-08T20:00:00Z")
    assert alerts.check(now) == 1  # $3 of $3.5: the 80% mark
    service.store.write_batch([usage("2026-03-08T20:30:00Z", ALPHA)], [], received=1)
    assert alerts.check(now + HOUR_MS) == 1 and alerts.check(now + HOUR_MS) == 0  # 100%, once
    conditions = [(a["period"], a["condition"]) for a in service.store.alerts()]
    assert conditions == [("daily:2026-03-08", "usd_100"), ("daily:2026-03-08", "usd_80")]
    service.store.write_batch([usage(f"2026-03-09T1{h}:00:00Z", ALPHA) for h in range(4)], [], received=4)
    assert alerts.check(ms("2026-03-09T20:00:00Z")) == 2  # a new local day, the same conditions again
    shown = get(service, "/alerts", member_cookie(service))["items"]
    assert len(shown) == 4 and {a["alias"] for a in shown} == {"alice"}
    assert get(service, "/alerts", member_cookie(service, BETA))["items"] == []


def test_an_unusual_hour_raises_one_anomaly_alert(shared):
    service = shared(now="2026-03-20T12:30:00Z")
    history = [usage(f"2026-03-{day:02d}T09:00:00Z", BETA, inp=10_000) for day in range(12, 20)]  # $0.01 an hour
    service.store.write_batch(history + [usage("2026-03-20T12:00:00Z", BETA, inp=50_000)], [], received=9)
    alerts = Alerts(service.analytics, "", 3.0)
    assert alerts.check(ms("2026-03-20T12:30:00Z")) == 1
    assert alerts.check(ms("2026-03-20T12:40:00Z")) == 0  # once per key and day
    alert = service.store.alerts()[0]
    assert (alert["kind"], alert["condition"], alert["value"], alert["threshold"]) == \
        ("anomaly", "last_hour_usd", 0.05, 0.03)
    assert Alerts(service.analytics, "", 6.0).check(ms("2026-03-21T12:30:00Z")) == 0  # nothing unusual then


class Receiver:
    """A local webhook receiver that fails its first ``failures`` requests."""

    def __init__(self, failures: int):
        self.bodies, self.failures = [], failures
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                owner.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(500 if len(owner.bodies) <= owner.failures else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_is_retried_with_backoff_until_delivered(shared):
    receiver = Receiver(failures=2)
    service = shared(ALERT_WEBHOOK_URL=receiver.url)
    try:
        service.store.set_budget(ALPHA, {"daily_usd": 2.0})
        alerts = Alerts(service.analytics, receiver.url, 3.0)
        now = ms("2026-03-08T20:00:00Z")
        assert alerts.check(now) == 2
        assert alerts.deliver_due(now) == 0 and len(receiver.bodies) == 2  # both tried, both refused
        assert alerts.deliver_due(now + 5_000) == 0 and len(receiver.bodies) == 2  # not due yet (10 s)
        owners = get(service, "/alerts", owner_cookie(service))
        assert owners["webhook"] is True and [a["attempts"] for a in owners["items"]] == [1, 1]
        assert all("500" in a["last_error"] for a in owners["items"])
        members = get(service, "/alerts", member_cookie(service))  # the owner's webhook is not theirs to see
        assert members["webhook"] is False and len(members["items"]) == 2
        assert all((a["attempts"], a["last_error"], a["delivered_at"]) == (0, None, None) for a in members["items"])
        assert alerts.deliver_due(now + 10_000) == 2 and len(receiver.bodies) == 4
        assert alerts.deliver_due(now + 3_600_000) == 0 and len(receiver.bodies) == 4  # delivered: never again
        first = receiver.bodies[-2]
        assert first["event"] == "cpa_usage.alert" and first["alert"]["alias"] == "alice"
        assert first["alert"]["condition"] == "usd_80" and first["alert"]["threshold"] == 1.6
        assert first["text"] == "cpa-usage: alice reached 80% of its daily budget for 2026-03-08: $3.00 of $2.00"
        assert ALPHA not in json.dumps(receiver.bodies)
        assert {a["attempts"] for a in service.store.alerts()} == {2}
    finally:
        receiver.close()


def test_a_webhook_url_with_a_user_is_sent_basic_auth(shared):
    receiver = Receiver(failures=0)
    headers = []
    original = receiver.server.RequestHandlerClass.do_POST

    def record_headers(handler):
        headers.append(dict(handler.headers))
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = record_headers
    url = receiver.url.replace("http://", "http://hook%40user:p%3Ass@")
    service = shared(ALERT_WEBHOOK_URL=url)
    try:
        service.store.set_budget(ALPHA, {"daily_usd": 2.0})
        alerts = Alerts(service.analytics, url, 3.0)
        now = ms("2026-03-08T20:00:00Z")
        assert alerts.check(now) == 2 and alerts.deliver_due(now) == 2
        assert headers[0]["Authorization"] == "Basic " + base64.b64encode(b"hook@user:p:ss").decode()
    finally:
        receiver.close()


def test_an_unreachable_webhook_is_given_up_after_the_last_delay(shared):
    service = shared()
    service.store.set_budget(ALPHA, {"daily_usd": 100.0, "daily_tokens": 1_000_000})
    alerts = Alerts(service.analytics, "http://127.0.0.1:9/closed", 3.0, timeout=2)
    now = ms("2026-03-08T20:00:00Z")
    assert alerts.check(now) == 2
    for delay in (0, *Alerts.RETRY_DELAYS_MS):
        now += delay
        assert alerts.deliver_due(now) == 0
    assert {a["attempts"] for a in service.store.alerts()} == {len(Alerts.RETRY_DELAYS_MS) + 1}
    assert all(a["next_attempt_ms"] == Alerts.GIVEN_UP for a in service.store.alerts())
    assert alerts.deliver_due(now + 365 * DAY_MS) == 0


# -- idle keys ---------------------------------------------------------------------------------

def test_idle_keys_are_listed_oldest_first(shared):
    service = shared(now="2026-03-30T12:00:00Z")
    service.store.write_batch([usage("2026-03-25T12:00:00Z", BETA)], [], received=1)
    idle = get(service, "/keys/idle", owner_cookie(service))
    assert idle["days"] == 14
    assert [(k["api_key"], k["idle_days"]) for k in idle["items"]] == [("sk-id…0003", None), ("sk-al…0001", 22)]
    assert idle["items"][0]["configured_in_cpa"] is True
