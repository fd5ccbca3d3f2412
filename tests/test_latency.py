"""Latency and TTFT histograms (schema 16): their bins and the error bound of a percentile
read from them, how ingest, retention and the migration fill them (SQLite and
PostgreSQL), and GET /usage/latency: percentiles computed by hand for a handful of
events, a filter, a range with raw edges, one before the raw events' cut-off, and the
hourly and daily series."""

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpa_usage import (FOUR_WEEKS_MS, HISTOGRAM_EDGES, HISTOGRAMS, Query, Store, histogram_bin,
                       histogram_percentile, histogram_rows, iso_ms, rollup_columns)
from test_analytics import event, get, ms
from test_instances import insert_events_before_schema_18, store_at_schema

# -- the bins and the bound -----------------------------------------------------------------


def test_every_value_up_to_16_ms_has_a_bin_of_its_own_then_8_per_doubling():
    assert HISTOGRAM_EDGES[:18] == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18)
    assert HISTOGRAM_EDGES.index(1024) - HISTOGRAM_EDGES.index(512) == 8  # 2^9 .. 2^10: eight bins
    # ceil(2^(81/8)) = ceil(1116.68): the bin of 1024 holds 1024 .. 1116
    assert HISTOGRAM_EDGES[HISTOGRAM_EDGES.index(1024) + 1] == 1117
    assert HISTOGRAM_EDGES[-1] == 2**30 and len(HISTOGRAM_EDGES) == 225
    assert [histogram_bin(v) for v in (-5, 0, 1, 16, 17, 18, 1024, 1116, 1117, 2**30, 2**40)] == [
        0, 0, 1, 16, 16, 17, HISTOGRAM_EDGES.index(1024), HISTOGRAM_EDGES.index(1024),
        HISTOGRAM_EDGES.index(1117), 224, 224]


def test_percentiles_interpolate_within_their_bin():
    b1024, b8 = histogram_bin(1024), histogram_bin(8)
    bins = {b8: 5, b1024: 5}  # five events of 8 ms, five of 1024 .. 1116
    assert histogram_percentile(bins, 50) == 8          # rank 5 is the last of the 8 ms bin
    assert histogram_percentile(bins, 95) == 1107       # rank 9.5: 4.5 of 5 into [1024, 1116]: 1024 + 92 * 0.9 = 1106.8
    assert histogram_percentile(bins, 99) == 1114       # rank 9.9: 1024 + 92 * 0.98 = 1114.16
    assert histogram_percentile({b1024: 20}, 95) == 1111  # rank 19 exactly (not 18.99...): 1024 + 92 * 0.95 = 1111.4
    assert histogram_percentile({}, 50) is None
    assert histogram_percentile({224: 1}, 99) == 2**30  # the open last bin: its lower bound


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=300), st.sampled_from([50, 95, 99]))
def test_a_percentile_is_within_9_05_percent_of_the_exact_one(values, percent):
    bins = {}
    for value in values:
        bins[histogram_bin(value)] = bins.get(histogram_bin(value), 0) + 1
    exact = sorted(values)[math.ceil(percent * len(values) / 100) - 1]  # the nearest rank
    estimate = histogram_percentile(bins, percent)
    assert abs(estimate - exact) <= (2 ** (1 / 8) - 1) * exact
    if exact <= 16:
        assert estimate == exact


# -- storage: ingest, retention, the migration ------------------------------------------------


@pytest.fixture
def store(new_database):
    s = Store(new_database())
    yield s
    s.close()


def histogram_table(store, table):
    return sorted(map(tuple, store.reader.execute(f"SELECT * FROM {table}")))


def test_the_schema_holds_the_bins_and_the_columns_the_code_writes(store):
    assert [tuple(row) for row in store.reader.execute("SELECT bin, lo, hi FROM histogram_bins ORDER BY bin")] == [
        (b, lo, hi) for b, (lo, hi) in enumerate(zip(HISTOGRAM_EDGES, [*HISTOGRAM_EDGES[1:], None]))]
    for histogram in HISTOGRAMS:
        described = store.reader.execute(f"SELECT * FROM {histogram.table} LIMIT 0").description
        assert [d[0] for d in described] == list(rollup_columns(histogram))


def test_ingest_counts_new_events_once_in_hours_and_days(store):
    events = [event("2026-03-01T15:10:00Z", latency=8, ttft=0), event("2026-03-01T15:20:00Z", latency=8, ttft=300),
              event("2026-03-01T16:10:00Z", latency=1100, ttft=300, source="bob@example.com")]
    store.write_batch(events, [], received=3)
    store.write_batch(events, [], received=3)  # the same events again: duplicates, nothing added
    hour, day = ms("2026-03-01T15:00:00Z"), ms("2026-03-01T00:00:00Z")
    alice, bob = ("alice@example.com", "aaaa000000000001", "gpt-5.4", "", 0), ("bob@example.com", "aaaa000000000001",
                                                                                "gpt-5.4", "", 0)
    assert histogram_table(store, "usage_latency_credentials_hourly") == [
        (hour, *alice, "latency", 8, 2), (hour, *alice, "ttft", histogram_bin(300), 1),
        (hour + 3_600_000, *bob, "latency", histogram_bin(1100), 1), (hour + 3_600_000, *bob, "ttft",
                                                                      histogram_bin(300), 1)]
    assert histogram_table(store, "usage_latency_credentials_daily") == [
        (day, *alice, "latency", 8, 2), (day, *alice, "ttft", histogram_bin(300), 1),
        (day, *bob, "latency", histogram_bin(1100), 1), (day, *bob, "ttft", histogram_bin(300), 1)]
    key = ("sk-team-alpha-7f3c", "gpt-5.4", "", 0)
    assert histogram_table(store, "usage_latency_keys_daily") == [
        (day, *key, "latency", 8, 2), (day, *key, "latency", histogram_bin(1100), 1),
        (day, *key, "ttft", histogram_bin(300), 2)]


def test_retention_keeps_the_histograms(store):
    store.write_batch([event("2026-03-01T15:10:00Z", latency=8)], [], received=1)
    before = [histogram_table(store, h.table) for h in HISTOGRAMS]
    store.delete_events_before(ms("2026-03-02T00:00:00Z"))
    assert [histogram_table(store, h.table) for h in HISTOGRAMS] == before and all(before)
    store.delete_rollups_before(ms("2026-03-02T00:00:00Z"))  # ROLLUP_RETENTION_DAYS removes them with the rollups,
    assert [h.table for h in HISTOGRAMS if histogram_table(store, h.table)] == [  # each bucket once wholly before
        "usage_latency_models_4weekly", "usage_latency_sources_4weekly"]
    end = ms("2026-03-01T15:10:00Z") // FOUR_WEEKS_MS * FOUR_WEEKS_MS + FOUR_WEEKS_MS  # the four weeks' end
    store.delete_rollups_before(end)
    assert not any(histogram_table(store, h.table) for h in HISTOGRAMS)


def test_schema_16_bins_the_raw_events_still_kept_as_ingest_does(new_database):
    """The migration fills the histograms from the raw events an older release kept,
    binned in SQL exactly as ingest bins in Python (negative and huge imported values too)."""
    target = new_database()
    events = [event("2026-03-01T15:10:00Z", latency=8, ttft=0), event("2026-03-01T15:20:00Z", latency=1100, ttft=300),
              event("2026-03-01T16:10:00Z", latency=None, ttft=None, model="claude-x"),
              event("2026-03-02T01:00:00Z", latency=16, ttft=17, api_key="sk-team-beta-99"),
              event("2026-03-02T02:00:00Z", latency=999_999_999, ttft=1, source="bob@example.com"),
              event("2026-03-02T03:00:00Z", failed=True)._replace(latency_ms=-5, ttft_ms=2**40)]  # imported
    old = store_at_schema(target, 15)
    insert_events_before_schema_18(old, events)
    old.close()
    new = Store(target)
    try:
        expected = histogram_rows(events)
        for histogram in HISTOGRAMS:
            assert histogram_table(new, histogram.table) == sorted(expected[histogram]), histogram.table
        assert expected[HISTOGRAMS[0]]  # a check of something
        rows = histogram_table(new, "usage_latency_keys_hourly")
        assert [row[-3:] for row in rows if row[0] == ms("2026-03-02T03:00:00Z")] == [("latency", 0, 1),
                                                                                        ("ttft", 224, 1)]
    finally:
        new.close()


def test_a_long_range_reads_four_weeks_by_model_and_credential_with_edges_from_the_wider_families(store):
    """Over months, the latency by model and by credential comes from the four weeks of
    schema 21, the ends of their run from the days and hours of the families by key and
    by credential, the edges inside an hour from raw events: the same bins as the events'
    own, each counted once; a filter those four weeks do not hold reads the wider ones."""
    rnd = random.Random(5)
    first = ms("2026-01-03T07:00:00Z")
    events = [event(iso_ms(first + i * 3_517_000 + rnd.randrange(3_000_000)), model=rnd.choice(("m-a", "m-b")),
                    source=rnd.choice(("alice@example.com", "bob@example.com")), failed=rnd.random() < 0.2,
                    latency=rnd.randrange(0, 60_000), ttft=rnd.randrange(0, 3_000)) for i in range(3_000)]
    store.write_batch(events, [], received=len(events))
    start, end = ms("2026-01-09T13:27:00Z"), ms("2026-04-21T16:41:00Z")  # 102 days: three four weeks and more
    inside = [ev for ev in events if start <= ev.ts_ms < end]
    statements = []
    if not store.dialect.postgres:
        store.reader.set_trace_callback(lambda sql: statements.extend(sql.split(" UNION ALL ")))

    def expected(*dimensions, failed=None):
        bins = {}
        for ev in inside:
            if failed is not None and ev.failed != failed:
                continue
            key = tuple(getattr(ev, d) for d in dimensions)
            for metric, value in (("latency", ev.latency_ms), ("ttft", ev.ttft_ms or None)):
                if value is not None:
                    into = bins.setdefault(key, {}).setdefault(metric, {})
                    into[histogram_bin(value)] = into.get(histogram_bin(value), 0) + 1
        return bins

    assert store.histograms(Query(start, end), ("model",)) == expected("model")
    assert store.histograms(Query(start, end), ("source", "auth_index")) == expected("source", "auth_index")
    assert store.histograms(Query(start, end, failed=0), ("model",)) == expected("model", failed=0)
    if statements:
        tables = {word for sql in statements for word in sql.split() if word.startswith("usage_latency_")}
        assert {"usage_latency_models_4weekly", "usage_latency_sources_4weekly", "usage_latency_keys_daily",
                "usage_latency_keys_hourly", "usage_latency_credentials_daily"} <= tables, tables
    # without raw events, whole hours from the rollups alone: the same bins
    start, end = ms("2026-01-09T13:00:00Z"), ms("2026-04-21T16:00:00Z")
    inside = [ev for ev in events if start <= ev.ts_ms < end]
    store.delete_events_before(end + 1)
    assert store.histograms(Query(start, end), ("model",)) == expected("model")


def test_events_without_latency_add_nothing():
    assert not any(histogram_rows([event("2026-03-01T15:10:00Z", latency=None, ttft=None)]).values())


# -- GET /usage/latency ---------------------------------------------------------------------

NOW = "2026-03-02T04:00:00Z"


def fixture_events():
    """alice's gpt-5.4: five events of 8 ms, no TTFT, and one at 20:10, early in its hour;
    bob's claude-x: five of 1100 ms, two of them with a TTFT of 300 ms, from 20:40 on."""
    return ([event("2026-03-01T20:10:00Z", latency=5000, ttft=0)]
            + [event(f"2026-03-01T20:4{i}:00Z", latency=8, ttft=0) for i in range(5)]
            + [event(f"2026-03-01T20:5{i}:00Z", latency=1100, ttft=300 if i < 2 else 0, model="claude-x",
                     source="bob@example.com", auth_index="bbbb000000000002", api_key="sk-team-beta-99")
               for i in range(5)])


def percentiles(p50, p95, p99, count):
    return {"p50": p50, "p95": p95, "p99": p99, "count": count}


NO_TTFT = percentiles(None, None, None, 0)
# [1024, 1117) holds 1100; five of them: ranks 2.5, 4.75, 4.95 of 5 -> 1024 + 92 * (0.5, 0.95, 0.99)
CLAUDE = {"latency": percentiles(1070, 1111, 1115, 5),
          # [280, 305) holds 300 (ceil(2^(65/8)) = 280, ceil(2^(66/8)) = 305): ranks 1, 1.9, 1.98 of 2
          "ttft": percentiles(292, 303, 304, 2)}


def test_percentiles_per_model_and_credential_from_a_range_with_raw_edges(make_service):
    service = make_service("UTC", NOW, fixture_events())
    # from 20:30: the 5000 ms event at 20:10, in the same hour, is outside (raw events decide)
    body = get(service, "/usage/latency?start=2026-03-01T20:30:00Z&end=2026-03-01T21:30:00Z")
    # ten events: ranks 5, 9.5, 9.9: the last 8 ms one; 4.5 and 4.9 of 5 into [1024, 1116]
    assert body["summary"] == {"latency": percentiles(8, 1107, 1114, 10), "ttft": CLAUDE["ttft"]}
    assert body["models"] == [{"model": "claude-x", **CLAUDE},  # most events first, then by name
                              {"model": "gpt-5.4", "latency": percentiles(8, 8, 8, 5), "ttft": NO_TTFT}]
    assert [(c["source"], c["auth_index"], c["latency"], c["ttft"]) for c in body["credentials"]] == [
        ("alice@example.com", "aaaa000000000001", percentiles(8, 8, 8, 5), NO_TTFT),  # as many events: by name
        ("bob@example.com", "bbbb000000000002", CLAUDE["latency"], CLAUDE["ttft"])]
    # the whole hour, one histogram bucket, holds the 5000 ms one too, in [4871, 5312)
    # (ceil(2^(98/8)), ceil(2^(99/8))): ranks 5.5, 10.45, 10.89 of 11
    whole = get(service, "/usage/latency?start=2026-03-01T20:00:00Z&end=2026-03-01T21:00:00Z")
    assert whole["summary"]["latency"] == percentiles(1033, 5069, 5263, 11)  # 1024 + 92 * 0.1; 4871 + 440 * 0.45, 0.89


def test_a_filter_narrows_every_part_of_the_answer(make_service):
    service = make_service("UTC", NOW, fixture_events())
    body = get(service, "/usage/latency?range=24h&model=claude-x")
    assert body["summary"] == CLAUDE
    assert [m["model"] for m in body["models"]] == ["claude-x"]
    assert [c["source"] for c in body["credentials"]] == ["bob@example.com"]
    assert get(service, "/usage/latency?range=24h&result=failed")["summary"]["latency"]["count"] == 0


def test_before_the_raw_cut_off_an_edge_reads_its_whole_hour(make_service):
    service = make_service("UTC", NOW, fixture_events())
    service.store.delete_events_before(ms("2026-03-01T21:00:00Z"))
    body = get(service, "/usage/latency?start=2026-03-01T20:30:00Z&end=2026-03-01T21:30:00Z")
    assert body["summary"]["latency"]["count"] == 11  # the 20:10 event counts: its raw row is gone
    assert body["summary"]["latency"]["p99"] > 4000


def test_the_hourly_series_and_the_daily_one(make_service):
    service = make_service("UTC", NOW, fixture_events())
    hourly = get(service, "/usage/latency?range=24h")["series"]
    assert hourly["step"] == "hour" and len(hourly["points"]) == 24
    busy = [p for p in hourly["points"] if p["latency"]["count"]]
    assert [(p["start_ms"], p["latency"]["count"], p["ttft"]) for p in busy] == [
        (ms("2026-03-01T20:00:00Z"), 11, CLAUDE["ttft"])]
    assert hourly["points"][0]["latency"] == NO_TTFT  # an hour of nothing: null percentiles, count 0
    daily = get(service, "/usage/latency?range=7d")["series"]
    assert daily["step"] == "day" and [p["start"] for p in daily["points"]][-2:] == ["2026-03-01", "2026-03-02"]
    assert [(p["start"], p["latency"]["count"]) for p in daily["points"] if p["latency"]["count"]] == [
        ("2026-03-01", 11)]
