"""The overview's daily series before its hourly window comes from UTC days, corrected by
the hours between UTC and local midnights (Analytics._days_from_utc_days): every day of
it must equal that local day asked for on its own (its overview's summary, planned from
that day's own hours), in zones east and west, across both DST changes, at +14 and -11,
with a price that changes inside a day, an unpriced model, failures and a key filter;
on SQLite and PostgreSQL. Where a midnight is not a whole hour (India) the days come
from hours, as before."""

import random

import pytest

from cpa_usage import Analytics, iso_ms, parse_rfc3339_ms
from test_analytics import event, get
from test_dated_prices import call

HOUR = 3_600_000
KEYS = ("sk-team-alpha-7f3c", "sk-team-beta-9d2e")
# What a day of the series and the same day's own summary must agree on (the summary
# names its unpriced models; a point of the series does not).
FIELDS = ("requests", "success", "failed", "success_rate", "tokens", "cache_hit_rate", "avg_latency_ms",
          "avg_ttft_ms", "flagged_requests", "first_seen", "last_seen")


def history(now: str, days: int, seed: int) -> list:
    """An event every 2 to 9 hours over ``days`` days before ``now``: two keys, a priced
    model, an unpriced one, one in six failed."""
    rnd = random.Random(seed)
    end = parse_rfc3339_ms(now)
    t = end - days * 24 * HOUR
    events = []
    while t < end - HOUR:
        events.append(event(iso_ms(t), model=rnd.choice(("hand-model", "hand-model", "nobody-prices-me")),
                            api_key=rnd.choice(KEYS), failed=rnd.random() < 1 / 6,
                            input_tokens=rnd.randrange(100, 5000), output_tokens=rnd.randrange(10, 900),
                            latency=rnd.randrange(200, 9000), ttft=rnd.randrange(0, 900)))
        t += rnd.randrange(2 * HOUR, 9 * HOUR) + rnd.randrange(0, 3_600_000)
    return events


@pytest.fixture
def spy(monkeypatch):
    """How many times the UTC-day path ran."""
    calls = []
    original = Analytics._days_from_utc_days

    def counted(self, *args):
        calls.append(self.time.zone.key)
        return original(self, *args)

    monkeypatch.setattr(Analytics, "_days_from_utc_days", counted)
    return calls


def days_equal_their_own_summaries(service, path: str) -> int:
    """Each day of the series of ``path`` against its own overview; the days compared."""
    body = get(service, path)
    start_ms, end_ms = body["range"]["start_ms"], body["range"]["end_ms"]
    points = body["daily"]
    filters = [p for p in path.split("?", 1)[1].split("&") if not p.startswith(("range=", "start=", "end="))]
    compared = 0
    for point, following in zip(points, [*points[1:], None]):
        lo = max(point["start_ms"], start_ms)
        hi = end_ms if following is None else following["start_ms"]
        alone = get(service, "/usage/overview?" + "&".join(["range=custom", f"start={lo}", f"end={hi}", *filters]))
        summary = alone["summary"]
        where = (point["date"], service.analytics.time.zone.key)
        assert {f: point[f] for f in FIELDS} == {f: summary[f] for f in FIELDS}, where
        assert point["cost"]["usd"] == pytest.approx(summary["cost"]["usd"], abs=1e-9), where
        assert point["cost"]["unpriced_requests"] == summary["cost"]["unpriced_requests"], where
        compared += point["requests"] > 0
    return compared


CASES = [  # (zone, now, days of history): DST starts 2026-03-08 (New York) / 03-29 (London)
    ("Asia/Shanghai", "2026-04-20T09:17:00Z", 80),
    ("America/New_York", "2026-04-20T09:17:00Z", 80),
    ("America/New_York", "2026-11-20T15:41:00Z", 80),  # across 11-01, the 25-hour day
    ("Europe/London", "2026-05-02T23:05:00Z", 70),
    ("Pacific/Kiritimati", "2026-04-20T09:17:00Z", 60),  # +14: the nearest UTC midnight is 10 hours away
    ("Pacific/Pago_Pago", "2026-04-20T09:17:00Z", 60),  # -11
    ("UTC", "2026-04-20T09:17:00Z", 60),
]


@pytest.mark.parametrize("zone,now,days", CASES, ids=[f"{zone}-{now[:7]}" for zone, now, _ in CASES])
def test_days_from_utc_days_equal_each_day_asked_alone(make_service, spy, zone, now, days):
    service = make_service(zone, now, history(now, days, seed=len(zone)))
    changed = iso_ms(parse_rfc3339_ms(now) - 50 * 24 * HOUR)[:10] + "T07:35:00Z"  # well before the hourly window
    call(service, "PUT", "/pricing", [
        {"model": "hand-model", "input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1},
        {"model": "hand-model", "effective_from": changed, "input": 3, "output": 6, "cache_read": 0.3,
         "cache_write": 3}])
    start = parse_rfc3339_ms(now) - (days - 1) * 24 * HOUR - 5 * HOUR  # from within a day
    compared = days_equal_their_own_summaries(service, f"/usage/overview?range=custom&start={start}&end={now}")
    assert spy == [zone] and compared > days - 20
    spy.clear()
    compared = days_equal_their_own_summaries(
        service, f"/usage/overview?range=custom&start={start}&end={now}&api_key={KEYS[1]}")
    assert spy == [zone] and compared > days / 2


def test_a_half_hour_zone_reads_its_days_in_hours(make_service, spy):
    now = "2026-04-20T09:17:00Z"
    service = make_service("Asia/Kolkata", now, history(now, 60, seed=3))
    assert days_equal_their_own_summaries(service, "/usage/overview?range=all") > 40
    assert spy == []
