"""The analytics API: values computed by hand for small fixtures in three time zones
(Asia/Shanghai, America/New_York across a DST change, Asia/Kathmandu at +05:45),
empty and one-event databases, filters combined, bad parameters, and a property
test that rollup answers equal sums over the raw events for random data and ranges."""

import datetime as dt
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import wsgi_call
from cpa_usage import (ROLLUPS, Query, Store, decode_payload, iso_ms, parse_rfc3339_ms)

RECEIVED = 1_900_000_000_000  # after every timestamp used here
_ids = itertools.count()


def event(ts: str, model="gpt-5.4", api_key="sk-team-alpha-7f3c", source="alice@example.com",
          auth_index="aaaa000000000001", failed=False, status=None, input_tokens=1000, output_tokens=100,
          cached=0, latency=2000, ttft=300, provider="codex"):
    """One current-era record, decoded (OpenAI-style tokens: input includes cached)."""
    record = {"timestamp": ts, "latency_ms": latency, "ttft_ms": ttft, "source": source, "auth_index": auth_index,
              "tokens": {"input_tokens": input_tokens, "output_tokens": output_tokens, "reasoning_tokens": 0,
                         "cached_tokens": cached, "total_tokens": input_tokens + output_tokens},
              "failed": failed, "fail": {"status_code": status or (502 if failed else 200), "body": ""},
              "provider": provider, "executor_type": "CodexExecutor", "model": model,
              "endpoint": "POST /v1/responses", "auth_type": "oauth", "api_key": api_key,
              "request_id": f"{next(_ids):08x}"}
    return decode_payload(json.dumps(record).encode(), RECEIVED)


def get(service, path, status=200):
    response = wsgi_call(service.app, "GET", "/usage/api/v1" + path)
    assert response.status == status, response.body[:500]
    return response.json()


def ms(text: str) -> int:
    return parse_rfc3339_ms(text)


# -- Asia/Shanghai (+08:00, no DST) ------------------------------------------------


def shanghai(make_service):
    return make_service("Asia/Shanghai", "2026-03-02T04:00:00Z", [
        event("2026-03-01T15:30:00Z", input_tokens=1000, output_tokens=100),           # 23:30 Mar 1 local
        event("2026-03-01T16:10:00Z", input_tokens=2000, output_tokens=200, cached=500),  # 00:10 Mar 2 local
        event("2026-03-02T03:00:00Z", failed=True, input_tokens=0, output_tokens=0),     # 11:00 Mar 2 local
    ])


def test_today_starts_at_local_midnight(make_service):
    service = shanghai(make_service)
    body = get(service, "/usage/overview?range=today")
    assert body["range"]["start"] == "2026-03-01T16:00:00.000Z"  # 00:00 +08:00
    summary = body["summary"]
    assert (summary["requests"], summary["success"], summary["failed"]) == (2, 1, 1)
    assert summary["success_rate"] == 0.5
    assert summary["tokens"] == {"input": 1500, "cache_read": 500, "cache_write": 0, "output": 200,
                                 "reasoning": 0, "unclassified": 0, "total": 2200}
    assert summary["cache_hit_rate"] == 0.25                        # 500 / (1500 + 500)
    assert summary["avg_latency_ms"] == 2000 and summary["avg_ttft_ms"] == 300
    minutes = (ms("2026-03-02T04:00:00Z") - ms("2026-03-01T16:00:00Z")) / 60000  # 720
    assert summary["rpm"] == round(2 / minutes, 4) and summary["tpm"] == round(2200 / minutes, 2)


def test_daily_and_hourly_series_are_local_and_complete(make_service):
    service = shanghai(make_service)
    body = get(service, "/usage/overview?range=2d")
    assert [(d["date"], d["requests"], d["failed"]) for d in body["daily"]] == [
        ("2026-02-28", 0, 0), ("2026-03-01", 1, 0), ("2026-03-02", 2, 1)]
    hourly = body["hourly"]
    assert len(hourly) == 48  # 12:00 Feb 28 .. 11:00 Mar 2 local: every hour present, the end excluded
    assert hourly[0]["start"] == "2026-02-28T12:00+08:00" and hourly[-1]["start"] == "2026-03-02T11:00+08:00"
    busy = {h["start"]: (h["requests"], h["failed"], h["success_rate"]) for h in hourly if h["requests"]}
    assert busy == {"2026-03-01T23:00+08:00": (1, 0, 1.0), "2026-03-02T00:00+08:00": (1, 0, 1.0),
                    "2026-03-02T11:00+08:00": (1, 1, 0.0)}
    grid = body["health_grid"]
    assert len(grid) == 48 * 4 and grid[0]["start"] == "2026-02-28T04:00:00.000Z"
    assert [(c["start"], c["requests"], c["failed"]) for c in grid if c["requests"]] == [
        ("2026-03-01T15:30:00.000Z", 1, 0), ("2026-03-01T16:00:00.000Z", 1, 0), ("2026-03-02T03:00:00.000Z", 1, 1)]


def test_a_viewer_zone_gives_its_own_hours_and_days_and_keeps_budgets_in_tz(make_service):
    """tz=America/New_York (EST, UTC-5) on a Shanghai service: the three events all fall on
    Mar 1 in New York, where it is 23:00 on Mar 1; a budget's day stays Shanghai's."""
    service = shanghai(make_service)
    service.store.set_budget("sk-team-alpha-7f3c", {"daily_usd": 5.0})
    body = get(service, "/usage/overview?range=today&tz=America/New_York&api_key=sk-team-alpha-7f3c")
    assert body["range"]["start"] == "2026-03-01T05:00:00.000Z"  # 00:00 -05:00
    assert (body["summary"]["requests"], body["summary"]["failed"]) == (3, 1)
    assert body["budget"]["daily"]["period"] == "2026-03-02"  # Shanghai's day, as its alerts count it
    body = get(service, "/usage/overview?range=2d&tz=America/New_York")
    assert [(d["date"], d["requests"], d["failed"]) for d in body["daily"]] == [
        ("2026-02-27", 0, 0), ("2026-02-28", 0, 0), ("2026-03-01", 3, 1)]
    busy = {h["start"]: h["requests"] for h in body["hourly"] if h["requests"]}
    assert busy == {"2026-03-01T10:00-05:00": 1, "2026-03-01T11:00-05:00": 1, "2026-03-01T22:00-05:00": 1}
    health = get(service, "/usage/health?tz=America/New_York&day=2026-03-01")
    assert health["tz"] == "America/New_York" and health["year"][-1]["date"] == "2026-03-01"
    assert {d["date"]: d["requests"] for d in health["year"] if d["requests"]} == {"2026-03-01": 3}
    assert health["day"]["cells"][0]["start"] == "2026-03-01T05:00:00.000Z"
    # +05:45: the hours start at a quarter past; the server's own zone named is the server's answer
    kathmandu = get(service, "/usage/overview?range=today&tz=Asia/Kathmandu")
    assert kathmandu["range"]["start"] == "2026-03-01T18:15:00.000Z"
    assert get(service, "/usage/overview?range=today&tz=Asia/Shanghai")["range"] == get(
        service, "/usage/overview?range=today")["range"]
    for bad in ("Mars/Olympus", "../../etc/passwd"):
        error = get(service, f"/usage/overview?tz={bad}", 400)
        assert error["detail"]["parameter"] == "tz" and "IANA" in error["detail"]["expected"]
    assert get(service, "/usage/overview?tz=", 400)["detail"]["parameter"] == "tz"
    # every route the dashboard sends it to takes it
    assert get(service, "/usage/realtime?tz=America/New_York")["minutes"]
    for path in ("/usage/latency", "/plans", "/credential-errors", "/usage/events/filters", "/auth-files",
                 "/models/used", "/usage/credentials", "/usage/analysis", "/usage/events"):
        assert get(service, f"{path}?range=today&tz=America/New_York")["range"]["start"] == "2026-03-01T05:00:00.000Z", path
    assert get(service, "/usage/latency?range=today&tz=America/New_York")["range"]["start"] == "2026-03-01T05:00:00.000Z"


def test_failures_per_hour_and_day_in_a_range_longer_than_the_grid(make_service):
    """Beyond 31 days the grid covers the last 31 only; the failures of earlier days
    still count (from a count of their own, not from the grid)."""
    service = make_service("UTC", "2026-03-02T04:00:00Z", [
        event("2026-01-20T10:00:00Z", failed=True, input_tokens=0, output_tokens=0),  # 41 days before
        event("2026-01-20T10:30:00Z"),
        event("2026-03-01T08:00:00Z", failed=True, input_tokens=0, output_tokens=0),
    ])
    body = get(service, "/usage/overview?range=custom&start=2026-01-15T00:00:00Z&end=2026-03-02T04:00:00Z")
    days = {d["date"]: (d["requests"], d["failed"]) for d in body["daily"] if d["requests"]}
    assert days == {"2026-01-20": (2, 1), "2026-03-01": (1, 1)}
    hours = {h["start"]: (h["requests"], h["failed"]) for h in body["hourly"] if h["requests"]}
    assert hours == {"2026-03-01T08:00+00:00": (1, 1)}  # the hourly series: the last 31 days
    assert body["summary"]["failed"] == 2 and sum(c["failed"] for c in body["health_grid"]) == 1


def test_health_year_and_day_detail(make_service):
    service = shanghai(make_service)
    body = get(service, "/usage/health?day=2026-03-02")
    year = body["year"]
    assert len(year) == 365 and year[-1]["date"] == "2026-03-02" and year[0]["date"] == "2025-03-03"
    assert {d["date"]: d["requests"] for d in year if d["requests"]} == {"2026-03-01": 1, "2026-03-02": 2}
    cells = body["day"]["cells"]
    assert len(cells) == 288 and cells[0]["start"] == "2026-03-01T16:00:00.000Z"
    assert [(c["start"], c["requests"], c["failed"]) for c in cells if c["requests"]] == [
        ("2026-03-01T16:10:00.000Z", 1, 0), ("2026-03-02T03:00:00.000Z", 1, 1)]


# -- America/New_York across the end of DST (2026-11-01 02:00 EDT -> 01:00 EST) ----------


def new_york(make_service):
    return make_service("America/New_York", "2026-11-02T12:00:00Z", [
        event("2026-11-01T05:30:00Z"),                  # 01:30 EDT, the first 01:00 hour
        event("2026-11-01T06:30:00Z", model="gpt-5.4-mini"),  # 01:30 EST, the repeated hour
        event("2026-11-02T04:30:00Z"),                  # 23:30 EST on Nov 1 (UTC already says Nov 2)
        event("2026-11-02T05:10:00Z"),                  # 00:10 EST Nov 2
    ])


def test_the_repeated_hour_is_two_hours(make_service):
    service = new_york(make_service)
    body = get(service, "/usage/overview?start=2026-11-01T04:00:00Z&end=2026-11-01T08:00:00Z")
    assert [(h["start"], h["requests"]) for h in body["hourly"]] == [
        ("2026-11-01T00:00-04:00", 0), ("2026-11-01T01:00-04:00", 1),
        ("2026-11-01T01:00-05:00", 1), ("2026-11-01T02:00-05:00", 0)]
    assert body["range"]["name"] == "custom"


def test_the_long_day_has_25_hours(make_service):
    service = new_york(make_service)
    body = get(service, "/usage/overview?start=2026-10-31T04:00:00Z&end=2026-11-03T05:00:00Z")
    assert [(d["date"], d["start_ms"], d["requests"]) for d in body["daily"]] == [
        ("2026-10-31", ms("2026-10-31T04:00:00Z"), 0),
        ("2026-11-01", ms("2026-11-01T04:00:00Z"), 3),   # 25 hours long, until 05:00Z on Nov 2
        ("2026-11-02", ms("2026-11-02T05:00:00Z"), 1)]
    day = get(service, "/usage/health?day=2026-11-01")["day"]
    assert len(day["cells"]) == 300 and day["end_ms"] - day["start_ms"] == 25 * 3_600_000
    spring = get(service, "/usage/health?day=2026-03-08")["day"]
    assert len(spring["cells"]) == 276  # 23 hours


def test_today_across_utc_midnight(make_service):
    service = new_york(make_service)  # now 07:00 EST Nov 2
    body = get(service, "/usage/overview?range=today")
    assert body["range"]["start"] == "2026-11-02T05:00:00.000Z"
    assert body["summary"]["requests"] == 1


# -- Asia/Kathmandu (+05:45) ----------------------------------------------------------


def kathmandu(make_service):
    return make_service("Asia/Kathmandu", "2026-05-02T06:00:00Z", [
        event("2026-05-01T18:10:00Z"),  # 23:55 May 1 local
        event("2026-05-01T18:20:00Z"),  # 00:05 May 2 local
    ])


def test_quarter_hour_offset_days_and_hours(make_service):
    service = kathmandu(make_service)
    body = get(service, "/usage/overview?range=24h")
    assert [(d["date"], d["requests"]) for d in body["daily"]] == [("2026-05-01", 1), ("2026-05-02", 1)]
    busy = {h["start"]: (h["start_ms"], h["requests"]) for h in body["hourly"] if h["requests"]}
    assert busy == {"2026-05-01T23:00+05:45": (ms("2026-05-01T17:15:00Z"), 1),
                    "2026-05-02T00:00+05:45": (ms("2026-05-01T18:15:00Z"), 1)}
    assert all(h["start_ms"] % 3_600_000 == 15 * 60_000 for h in body["hourly"])
    today = get(service, "/usage/overview?range=today")
    assert today["range"]["start"] == "2026-05-01T18:15:00.000Z" and today["summary"]["requests"] == 1


# -- empty, one event, filters ----------------------------------------------------------


def test_empty_database_answers_zeros_everywhere(make_service):
    service = make_service("UTC", "2026-06-01T12:00:00Z")
    overview = get(service, "/usage/overview?range=24h")
    assert overview["summary"]["requests"] == 0 and overview["summary"]["success_rate"] is None
    assert overview["summary"]["avg_latency_ms"] is None and overview["summary"]["cost"]["usd"] == 0
    assert len(overview["hourly"]) == 24 and all(h["requests"] == 0 for h in overview["hourly"])
    assert len(overview["daily"]) == 2
    assert get(service, "/usage/analysis")["items"] == []
    assert get(service, "/usage/credentials")["items"] == []
    assert get(service, "/usage/events") == {**get(service, "/usage/events"), "items": [], "total": 0}
    assert all(d["requests"] == 0 for d in get(service, "/usage/health")["year"])
    assert get(service, "/usage/events/filters")["models"] == []
    assert get(service, "/usage/overview?range=all")["summary"]["rpm"] == 0


def test_a_range_that_ends_now_counts_its_open_bucket_whole(make_service):
    service = make_service("UTC", "2026-06-01T12:02:00Z", [
        event("2026-06-01T11:30:00Z"), event("2026-06-01T12:00:30Z"),
        event("2026-06-01T12:03:00Z")])  # stamped a minute ahead of the clock, in the same 5-minute bucket
    assert get(service, "/usage/overview?range=4h")["summary"]["requests"] == 3  # the bucket read whole
    just_now = "start=2026-06-01T11:00:00Z&end=2026-06-01T12:01:55Z"  # 5 s ago: the asking clock lags a little
    assert get(service, f"/usage/overview?range=custom&{just_now}")["summary"]["requests"] == 3
    a_minute_ago = "start=2026-06-01T11:00:00Z&end=2026-06-01T12:01:00Z"  # chosen: exact to the millisecond
    assert get(service, f"/usage/overview?range=custom&{a_minute_ago}")["summary"]["requests"] == 2
    assert get(service, f"/usage/events?range=custom&{a_minute_ago}")["total"] == 2


def test_one_event(make_service):
    service = make_service("UTC", "2026-06-01T12:00:00Z", [event("2026-06-01T11:00:00Z", latency=1234, ttft=321)])
    summary = get(service, "/usage/overview?range=24h")["summary"]
    assert summary["requests"] == 1 and summary["avg_latency_ms"] == 1234 and summary["avg_ttft_ms"] == 321
    assert summary["rpm"] == round(1 / 1440, 4)
    assert summary["first_seen"] == summary["last_seen"] == "2026-06-01T11:00:00.000Z"
    all_range = get(service, "/usage/overview?range=all")
    assert all_range["range"]["start"] == "2026-06-01T11:00:00.000Z"
    assert all_range["summary"]["rpm"] == round(1 / 60, 4)  # one request in the hour since the first one
    events = get(service, "/usage/events")
    assert events["total"] == 1 and events["items"][0]["latency_ms"] == 1234


def filtered_fixture(make_service):
    return make_service("UTC", "2026-06-02T00:00:00Z", [
        event("2026-06-01T10:00:00Z", model="gpt-5.4", api_key="sk-key-one-000001", source="a@x.com"),
        event("2026-06-01T10:01:00Z", model="gpt-5.4", api_key="sk-key-two-000002", source="a@x.com"),
        event("2026-06-01T10:02:00Z", model="gpt-5.4-mini", api_key="sk-key-one-000001", source="b@x.com",
              auth_index="bbbb000000000002", failed=True, status=429),
        event("2026-06-01T11:00:00Z", model="gpt-5.4", api_key="sk-key-one-000001", source="b@x.com",
              auth_index="bbbb000000000002", failed=True, status=503),
        event("2026-06-01T12:00:00Z", model="claude-sonnet-4-5", api_key="sk-key-two-000002", source="c@x.com",
              auth_index="cccc000000000003", provider="claude"),
    ])


def test_filters_combine(make_service):
    service = filtered_fixture(make_service)

    def requests(query):
        return get(service, f"/usage/overview?range=24h&{query}")["summary"]["requests"]

    assert requests("model=gpt-5.4") == 3
    assert requests("model=gpt-5.4&model=gpt-5.4-mini") == 4
    assert requests("model=gpt-5.4&api_key=sk-key-one-000001") == 2
    assert requests("model=gpt-5.4&api_key=sk-key-one-000001&result=failed") == 1
    assert requests("source=b@x.com&result=success") == 0
    assert requests("auth_index=cccc000000000003") == 1
    assert requests("source=a@x.com&source=c@x.com") == 3
    assert requests("api_key=nobody") == 0
    events = get(service, "/usage/events?model=gpt-5.4&result=failed")
    assert events["total"] == 1 and events["items"][0]["status_code"] == 503


def test_api_key_filter_accepts_the_shown_id_and_the_alias(make_service):
    service = filtered_fixture(make_service)
    keys = get(service, "/usage/events/filters?range=24h")["api_keys"]
    assert [k["api_key"] for k in keys] == ["sk-ke…0001", "sk-ke…0002"]
    one = keys[0]["api_key_id"]
    assert get(service, f"/usage/overview?range=24h&api_key={one}")["summary"]["requests"] == 3
    service.store.set_meta("unused", "x")
    with service.store.write_lock:
        service.store._writer.execute("INSERT INTO api_key_aliases VALUES ('sk-key-two-000002', 'Team B', 0)")
    assert get(service, "/usage/overview?range=24h&api_key=Team B")["summary"]["requests"] == 2
    assert get(service, "/usage/events/filters?range=24h")["api_keys"][1]["alias"] == "Team B"


def test_analysis_groups_sorts_and_pages(make_service):
    service = filtered_fixture(make_service)
    by_model = get(service, "/usage/analysis?range=24h&group=model")
    assert [(i["model"], i["requests"], i["failed"]) for i in by_model["items"]] == [
        ("gpt-5.4", 3, 1), ("claude-sonnet-4-5", 1, 0), ("gpt-5.4-mini", 1, 1)]
    by_key = get(service, "/usage/analysis?range=24h&group=api&sort=name")
    assert [(i["api_key"], i["requests"]) for i in by_key["items"]] == [("sk-ke…0001", 3), ("sk-ke…0002", 2)]
    both = get(service, "/usage/analysis?range=24h&group=both&sort=failed&page_size=2&page=1")
    assert both["total"] == 4 and len(both["items"]) == 2 and both["items"][0]["failed"] == 1
    first = get(service, "/usage/analysis?range=24h&group=model&sort=first_seen&order=asc")["items"][0]
    assert first["first_seen"] == "2026-06-01T10:00:00.000Z" and first["last_seen"] == "2026-06-01T11:00:00.000Z"


def test_credentials_report_last_success_and_failure(make_service):
    service = filtered_fixture(make_service)
    items = {i["source"]: i for i in get(service, "/usage/credentials?range=24h")["items"]}
    b = items["b@x.com"]
    assert (b["requests"], b["success"], b["failed"], b["success_rate"]) == (2, 0, 2, 0.0)
    assert b["last_success_at"] is None
    assert b["last_failure_at"] == "2026-06-01T11:00:00.000Z" and b["last_failure_status"] == 503
    a = items["a@x.com"]
    assert a["last_success_at"] == "2026-06-01T10:01:00.000Z" and a["last_failure_status"] is None
    assert items["c@x.com"]["provider"] == "claude"


def test_unaligned_range_edges_are_exact(make_service):
    service = filtered_fixture(make_service)
    assert get(service, "/usage/overview?start=2026-06-01T10:00:30Z&end=2026-06-01T10:02:00Z")[
        "summary"]["requests"] == 1  # only 10:01:00
    assert get(service, "/usage/overview?start=2026-06-01T10:00:00Z&end=2026-06-01T10:02:00.001Z")[
        "summary"]["requests"] == 3


# -- parameters -------------------------------------------------------------------------


@pytest.mark.parametrize("query, parameter", [
    ("range=1y", "range"), ("range=custom&start=2026-06-01T00:00:00Z", "end"), ("range=custom", "start"),
    ("start=2026-06-02T00:00:00Z&end=2026-06-01T00:00:00Z", "end"), ("start=yesterday&end=now", "start"),
    ("range=24h&start=1780000000000", "start"), ("result=ok", "result"), ("model=", "model"),
    ("auth_index=a&auth_index=b", "auth_index"), ("page=0", "page"), ("page_size=501", "page_size"),
    ("colour=red", "colour"),
])
def test_bad_parameters_are_400_naming_them(make_service, query, parameter):
    service = make_service("UTC", "2026-06-01T12:00:00Z")
    body = get(service, f"/usage/events?{query}", status=400)
    assert body["detail"]["parameter"] == parameter


@pytest.mark.parametrize("path, parameter", [
    ("/usage/analysis?group=team", "group"), ("/usage/analysis?sort=size", "sort"),
    ("/usage/analysis?order=up", "order"), ("/usage/health?day=2026-02-30", "day"),
    ("/usage/health?range=24h", "range"), ("/usage/overview?page=2", "page"),
])
def test_endpoint_specific_parameters(make_service, path, parameter):
    service = make_service("UTC", "2026-06-01T12:00:00Z")
    assert get(service, path, status=400)["detail"]["parameter"] == parameter


def test_epoch_milliseconds_are_accepted(make_service):
    service = filtered_fixture(make_service)
    body = get(service, f"/usage/overview?start={ms('2026-06-01T10:00:00Z')}&end={ms('2026-06-01T11:00:00Z')}")
    assert body["summary"]["requests"] == 3


# -- rollups against raw events -------------------------------------------------------------

BASE = ms("2026-06-01T00:00:00Z")
MODELS = ["gpt-5.4", "gpt-5.4-mini", "claude-sonnet-4-5"]
KEYS = ["sk-key-one-000001", "sk-key-two-000002"]
SOURCES = ["a@x.com", "b@x.com"]


@st.composite
def events_and_query(draw):
    count = draw(st.integers(1, 40))
    rows = []
    for _ in range(count):
        offset = draw(st.integers(0, 3 * 86_400_000))
        rows.append(event(dt.datetime.fromtimestamp((BASE + offset) / 1000, dt.timezone.utc).isoformat(),
                          model=draw(st.sampled_from(MODELS)), api_key=draw(st.sampled_from(KEYS)),
                          source=draw(st.sampled_from(SOURCES)), failed=draw(st.booleans()),
                          input_tokens=draw(st.integers(0, 5000)), output_tokens=draw(st.integers(0, 500)),
                          latency=draw(st.integers(1, 10_000))))
    start = BASE + draw(st.integers(-86_400_000, 3 * 86_400_000))
    end = start + draw(st.integers(1, 3 * 86_400_000))
    query = Query(start, end, models=tuple(draw(st.sets(st.sampled_from(MODELS), max_size=2))),
                  api_keys=tuple(draw(st.sets(st.sampled_from(KEYS), max_size=1))),
                  failed=draw(st.sampled_from([None, 0, 1])))
    group = draw(st.sampled_from([(), ("model",), ("failed",), ("api_key", "model"), ("source", "failed")]))
    step = draw(st.sampled_from([None, 300_000, 900_000, 3_600_000]))
    return rows, query, group, step, draw(st.integers(0, count))


@pytest.fixture
def property_store(new_database):
    store = Store(new_database())
    yield store
    store.close()


def emptied(store: Store) -> Store:
    """The store with every row of every table removed (hypothesis runs many examples
    on one fixture), and nothing kept in memory from before."""
    with store.write_lock:
        for table in ("usage_events", "meta", *(rollup.table for rollup in ROLLUPS)):  # rollup_changes: its
            # sequence must go on growing, as it does in use
            store._writer.execute(f"DELETE FROM {table}")
    if store.cache is not None:
        store.cache.clear()
    return store


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=events_and_query())
def test_rollups_equal_raw_event_sums(property_store, data):
    rows, query, group, step, split = data
    store = emptied(property_store)
    # asked once between two batches: kept answers must not hide the second one
    store.write_batch(rows[:split], [], received=split)
    store.aggregate(query, group, step)
    store.count(query, group, step)
    store.write_batch(rows[split:], [], received=len(rows) - split)
    expected: dict = {}
    for ev in rows:
        if not (query.start_ms <= ev.ts_ms < query.end_ms) or (query.models and ev.model not in query.models) \
                or (query.api_keys and ev.api_key not in query.api_keys) \
                or (query.failed is not None and ev.failed != query.failed):
            continue
        key = ((ev.ts_ms - ev.ts_ms % step,) if step else ()) + tuple(getattr(ev, g) for g in group)
        acc = expected.setdefault(key, [0, 0, 0, 0, 0, 0])
        acc[0] += 1
        acc[5] += ev.failed
        acc[1] += ev.input_tokens
        acc[2] += ev.output_tokens
        acc[3] += ev.total_tokens
        acc[4] += ev.latency_ms
    got = {key: [m[0], m[1], m[4], m[7], m[8]] for key, m in store.aggregate(query, group, step).items()}
    assert got == {key: acc[:5] for key, acc in expected.items()}
    assert store.count(query, group, step) == {key: acc[0] for key, acc in expected.items()}
    assert store.count(query, group, step, failures=True) == {key: [acc[0], acc[5]] for key, acc in expected.items()}
    # and every rollup table holds the same totals as the raw events
    for rollup in ROLLUPS:
        total = store.reader.execute(f"SELECT SUM(requests), SUM(total_tokens) FROM {rollup.table}").fetchone()
        assert total == (len(rows), sum(ev.total_tokens for ev in rows)), rollup.table


def test_deep_event_pages_match_plain_offset(new_database):
    store = Store(new_database())
    try:
        rows = [event(dt.datetime.fromtimestamp((BASE + i * 37_003) / 1000, dt.timezone.utc).isoformat(),
                      model=MODELS[i % 3], failed=i % 7 == 0) for i in range(6000)]
        store.write_batch(rows, [], received=len(rows))
        for query in (Query(0, 2**62), Query(BASE + 3_600_123, BASE + 2 * 86_400_000 + 17, models=("gpt-5.4",)),
                      Query(0, 2**62, failed=0)):
            clauses, params = query.conditions()
            expected_total = store.reader.execute(
                f"SELECT COUNT(*) FROM usage_events WHERE ts_ms >= ? AND ts_ms < ? "
                f"{''.join(' AND ' + c for c in clauses)}", [query.start_ms, query.end_ms, *params]).fetchone()[0]
            for page in (1, 2, 41, 45, 60, expected_total // 50 + 1):
                got, total = store.list_events(query, page, 50)
                expected = store.reader.execute(
                    f"SELECT event_key FROM usage_events WHERE ts_ms >= ? AND ts_ms < ? "
                    f"{''.join(' AND ' + c for c in clauses)} ORDER BY ts_ms DESC, event_key DESC LIMIT 50 OFFSET ?",
                    [query.start_ms, query.end_ms, *params, (page - 1) * 50]).fetchall()
                assert total == expected_total
                assert [r["event_key"] for r in got] == [r[0] for r in expected], (query, page)
    finally:
        store.close()


@pytest.mark.parametrize("new_database", ["sqlite"], indirect=True)  # statements traced by SQLite
def test_a_deep_page_counts_five_minute_buckets_inside_its_hour_only(new_database):
    """Past 2,000 events within one hour, a filtered page is found by 5-minute counts
    from the full rollup: those are read for that hour, not for the range before it."""
    store = Store(new_database())
    try:
        iso = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()  # noqa: E731
        busy_hour = BASE + 2 * 86_400_000
        rows = [event(iso(BASE + i * 3_600_000), source="b@x.com") for i in range(48)]  # two quiet days before
        rows += [event(iso(busy_hour + i * 1_300), source="b@x.com") for i in range(2_500)]
        store.write_batch(rows, [], received=len(rows))
        query = Query(BASE, busy_hour + 3_600_000, sources=("b@x.com",))
        statements = []
        store.reader.set_trace_callback(lambda sql: statements.extend(sql.split(" UNION ALL ")))
        got, total = store.list_events(query, 45, 50)  # offset 2,200: inside the busy hour
        store.reader.set_trace_callback(None)
        assert total == 2_548 and len(got) == 50
        expected = store.reader.execute(
            "SELECT event_key FROM usage_events WHERE source = 'b@x.com' ORDER BY ts_ms DESC, event_key DESC "
            "LIMIT 50 OFFSET 2200").fetchall()
        assert [r["event_key"] for r in got] == [r[0] for r in expected]
        spans = [tuple(map(int, re.search(r"bucket_ms >= (\d+) AND bucket_ms < (\d+)", sql).groups()))
                 for sql in statements if "FROM usage_rollup " in sql and "GROUP BY bucket_ms" in sql]
        assert spans and all(hi - lo <= 3_600_000 for lo, hi in spans), spans
    finally:
        store.close()


def test_ranges_before_the_retention_cut_off_use_whole_buckets(make_service):
    service = make_service("UTC", "2026-06-02T00:00:00Z", [
        event("2026-06-01T10:01:00Z"), event("2026-06-01T10:03:00Z"), event("2026-06-01T12:00:00Z")])
    service.store.delete_events_before(ms("2026-06-01T11:00:00Z"))
    assert get(service, "/usage/events?range=24h")["total"] == 1  # only what is still stored
    # 10:02 is inside the 10:00-10:05 bucket whose raw events are gone: the whole bucket counts
    body = get(service, "/usage/overview?start=2026-06-01T10:02:00Z&end=2026-06-01T13:00:00Z")
    assert body["summary"]["requests"] == 3
    assert get(service, "/usage/overview?range=24h")["summary"]["requests"] == 3  # rollups outlive raw events


@given(st.integers(0, 8_000_000_000_000))
def test_iso_ms_renders_utc_with_milliseconds(ms_value):
    expected = (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms_value)).strftime("%Y-%m-%dT%H:%M:%S")
    assert iso_ms(ms_value) == f"{expected}.{ms_value % 1000:03d}Z"


def test_realtime_is_the_last_hour_by_the_minute(make_service):
    service = make_service("Asia/Shanghai", "2026-03-02T04:00:30Z", [
        event("2026-03-02T04:00:10Z", input_tokens=1000, output_tokens=100),  # the current minute
        event("2026-03-02T03:59:59Z", input_tokens=2000, output_tokens=0),  # the minute before
        event("2026-03-02T03:58:00Z", failed=True, input_tokens=0, output_tokens=0),
        event("2026-03-02T03:01:00Z", input_tokens=5, output_tokens=5),  # the first minute of the hour
        event("2026-03-02T03:00:59Z", input_tokens=7000, output_tokens=0),  # before it: not counted
        event("2026-03-02T02:10:00Z", api_key="sk-team-beta-0000", input_tokens=9, output_tokens=0),
    ])
    answer = get(service, "/usage/realtime")
    minutes = answer["minutes"]
    assert len(minutes) == 60 and answer["start"] == "2026-03-02T03:01:00.000Z"
    assert answer["end"] == "2026-03-02T04:01:00.000Z"  # the current minute, still filling, is the last
    assert [m["start_ms"] for m in minutes] == list(range(ms("2026-03-02T03:01:00Z"), ms("2026-03-02T04:01:00Z"), 60_000))
    assert minutes[-1] == {"start_ms": ms("2026-03-02T04:00:00Z"), "requests": 1, "failed": 0, "tokens": 1100}
    assert minutes[-2] == {"start_ms": ms("2026-03-02T03:59:00Z"), "requests": 1, "failed": 0, "tokens": 2000}
    assert minutes[-3]["failed"] == 1 and minutes[0]["tokens"] == 10
    assert (answer["requests"], answer["failed"], answer["tokens"]) == (4, 1, 3110)
    assert get(service, "/usage/realtime?api_key=sk-team-beta-0000")["requests"] == 0  # the filters apply
    assert get(service, "/usage/realtime?result=failed")["requests"] == 1
    get(service, "/usage/realtime?range=7d", status=400)  # always the last hour
