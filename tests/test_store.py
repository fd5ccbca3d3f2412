"""The SQLite store: schema migrations, batched inserts, dedup, rollups, dead letters, retention."""

import re
import sqlite3

import pytest

from conftest import encode, payload_lines, record, sqlite_only
from cpa_usage import (DAY_MS, FOUR_WEEKS_MS, HOUR_MS, MIGRATIONS, PROMPT_BANDS, ROLLUP_MEASURES, ROLLUPS, DeadLetter,
                       Piece, Query, Read, RollupCache, Store, UsageEvent, decode_error_event, decode_payload,
                       is_transient_db_error, iso_ms, rollup_columns, rollup_rows)
from test_instances import ROLLUPS_BEFORE_SCHEMA_20, SINCE_SCHEMA_18, rollup_rows_before_schema_18, store_at_schema

RECEIVED = 1_790_000_000_000


def fixture_events(era="v7.2"):
    return [decode_payload(line, RECEIVED) for line in payload_lines(era)]


def rollup_totals(store):
    columns = ", ".join(f"SUM({m})" for m in ROLLUP_MEASURES)
    return store.reader.execute(f"SELECT {columns} FROM usage_rollup").fetchone()


def event_totals(store):
    return store.reader.execute(
        "SELECT COUNT(*), SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(output_tokens), "
        "SUM(reasoning_tokens), SUM(unclassified_tokens), SUM(total_tokens), SUM(latency_ms), COUNT(latency_ms), "
        "SUM(CASE WHEN ttft_ms > 0 THEN ttft_ms ELSE 0 END), SUM(CASE WHEN ttft_ms > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN token_quality IN ('unclassified','inconsistent','ambiguous') OR ts_estimated = 1 "
        "THEN 1 ELSE 0 END) FROM usage_events").fetchone()


@pytest.fixture
def store(new_database):
    """Every test of this file that uses ``store`` runs on SQLite and on PostgreSQL."""
    s = Store(new_database())
    yield s
    s.close()


def test_fresh_database_is_migrated(store):
    conn = store.reader
    if store.dialect.postgres:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = current_schema()")}
    else:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"usage_events", "usage_rollup", "dead_letters", "meta", "budgets", "alerts", "rollup_changes"} <= tables


def test_the_frozen_migrations_make_the_schema_the_code_writes(store):
    """Migrations are frozen SQL: a field of UsageEvent or a rollup measure added without
    a migration of its own would be written into columns no migration made."""
    columns = lambda table: [d[0] for d in store.reader.execute(f"SELECT * FROM {table} LIMIT 0").description]
    assert columns("usage_events") == ["id", *UsageEvent._fields]
    for rollup in ROLLUPS:
        assert columns(rollup.table) == ["bucket_ms", *rollup.dimensions, *ROLLUP_MEASURES, "first_ms", "last_ms",
                                         "last_status"], rollup.table


def test_reopening_keeps_rows_and_does_not_migrate_again(new_database):
    target = new_database()
    first = Store(target)
    first.write_batch(fixture_events(), [], received=17)
    first.close()
    second = Store(target)
    assert second.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0] == 17
    assert second.load_totals()["inserted"] == 17
    second.close()


def store_with_rollup_rows(target: str, version: int, tables: list) -> Store:
    """A store at schema ``version`` whose ``tables`` (Rollups) hold what two eras of
    fixtures sum to, written as that version would have."""
    old = store_at_schema(target, version)
    rows = rollup_rows_before_schema_18(fixture_events("v7.1") + fixture_events("v7.2"))
    with old.write_lock:
        for rollup in tables:
            old._writer.executemany(f"INSERT INTO {rollup.table} VALUES ({', '.join('?' * len(rows[rollup][0]))})",
                                    rows[rollup])
    return old


def test_schema_11_keeps_every_timeline_and_series_row_and_adds_to_them(new_database):
    """Schema 11 rebuilds the clustered families (SQLite: WITHOUT ROWID) with every row
    they had; the ingest then adds to them as before."""
    target = new_database()
    clustered = [r for r in ROLLUPS_BEFORE_SCHEMA_20 if r.table.startswith(("usage_timeline", "usage_series"))]
    assert len(clustered) == 7

    def columns(rollup):  # of schema 10 (of 18 the series have a prompt band and a served tier more)
        return [column for column in rollup_columns(rollup) if column not in SINCE_SCHEMA_18]

    def rows(store):
        return {r.table: store.reader.execute(f"SELECT {', '.join(columns(r))} FROM {r.table} ORDER BY 1, 2, 3"
                                              ).fetchall() for r in clustered}

    old = store_with_rollup_rows(target, 10, clustered)
    before = rows(old)
    old.close()
    new = Store(target)
    try:
        assert rows(new) == before and all(before.values())
        if not new.dialect.postgres:
            definitions = dict(new.reader.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
            assert all(definitions[r.table].endswith("WITHOUT ROWID") for r in clustered)
            assert not any(sql.endswith("WITHOUT ROWID") for name, sql in definitions.items()
                           if name.startswith(("usage_rollup", "usage_keys", "usage_credentials")))
        added = fixture_events("v7.0")
        new.write_batch(added, [], received=0)
        for rollup in clustered:
            requests = new.reader.execute(f"SELECT SUM(requests) FROM {rollup.table}").fetchone()[0]
            position = columns(rollup).index("requests")
            assert requests == sum(row[position] for row in before[rollup.table]) + len(added)
    finally:
        new.close()


def test_schema_12_sums_the_key_timeline_from_the_keys_rollups(new_database):
    """The key timeline of an upgraded database is what the ingest would have summed
    (but the status of the last event, which only the full rollup keeps); a key's
    questions read it from then on."""
    target = new_database()
    keys = [r for r in ROLLUPS_BEFORE_SCHEMA_20 if r.table.startswith("usage_keys")]
    key_timeline = [r for r in ROLLUPS_BEFORE_SCHEMA_20 if r.dimensions == ("api_key", "failed")]
    assert len(keys) == len(key_timeline) == 3
    old = store_with_rollup_rows(target, 11, keys)
    old.close()
    new = Store(target)
    try:
        expected = rollup_rows_before_schema_18(fixture_events("v7.1") + fixture_events("v7.2"))
        for rollup in key_timeline:
            stored = new.reader.execute(f"SELECT * FROM {rollup.table} ORDER BY 1, 2, 3").fetchall()
            assert [row[:-1] for row in stored] == sorted(row[:-1] for row in expected[rollup]), rollup.table
        key = new.distinct_values("api_key")[0]
        query = Query(0, 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000, api_keys=(key,))  # whole days
        assert {rollup.table for rollup, _, _ in new.plan(query, (), HOUR_MS)} <= {r.table for r in key_timeline}
        daily = [(failed, requests) for _, api_key, _, failed, requests, *_ in expected[keys[2]] if api_key == key]
        assert new.count(query, (), failures=True) == {(): [sum(n for _, n in daily), sum(n for f, n in daily if f)]}
    finally:
        new.close()


def test_schema_20_sums_four_weeks_from_the_days_and_a_long_range_reads_them(new_database):
    """Schema 20 gives every narrow family four weeks, summed from its days as the ingest
    sums them (the status of the last event left out: only the 5-minute base's is read);
    a long range without a time step reads those, and the ingest adds to them."""
    target = new_database()
    events = [event._replace(ts_ms=event.ts_ms + i * 9 * DAY_MS)  # ~17 events over five months
              for i, event in enumerate(fixture_events("v7.1") + fixture_events("v7.2"))]
    coarse = [r for r in ROLLUPS if r.bucket_ms == FOUR_WEEKS_MS]
    days = {r.table.replace("_4weekly", "_daily"): r for r in coarse}
    assert len(coarse) == 5 and not any(r.table.startswith("usage_rollup") for r in coarse)
    old = store_at_schema(target, 19)
    rows = rollup_rows(events)
    with old.write_lock:
        for rollup in ROLLUPS:
            if rollup.table in days:
                old._writer.executemany(f"INSERT INTO {rollup.table} VALUES ({', '.join('?' * len(rows[rollup][0]))})",
                                        rows[rollup])
    old.close()
    new = Store(target)
    try:
        for rollup in coarse:
            stored = new.reader.execute(f"SELECT * FROM {rollup.table}").fetchall()
            assert sorted(row[:-1] for row in stored) == sorted(row[:-1] for row in rows[rollup]), rollup.table
            assert len({row[0] for row in stored}) > 4, rollup.table  # the events span several four weeks
        first, last = min(e.ts_ms for e in events), max(e.ts_ms for e in events)
        whole = Query(first - first % FOUR_WEEKS_MS, last - last % FOUR_WEEKS_MS + FOUR_WEEKS_MS)
        assert {piece.rollup.table for piece in new.plan(whole, ("model",), None)} == {"usage_series_4weekly"}
        assert {piece.rollup.table for piece in new.plan(whole, ("api_key",), None)} == {"usage_key_timeline_4weekly"}
        expected = {}
        for event in events:
            expected[(event.model,)] = expected.get((event.model,), 0) + 1
        assert new.count(whole, ("model",)) == expected
        added = fixture_events("v7.0")
        new.write_batch(added, [], received=len(added))
        assert new.count(Query(0, 2**62)) == {(): len(events) + len(added)}
        for rollup in coarse:
            requests = new.reader.execute(f"SELECT SUM(requests) FROM {rollup.table}").fetchone()[0]
            assert requests == len(events) + len(added), rollup.table
    finally:
        new.close()


@sqlite_only
def test_a_database_from_a_newer_version_is_refused(tmp_path, new_database):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        Store(str(path))


def test_batch_insert_counts_duplicates_within_and_across_batches(store):
    events = fixture_events()
    result = store.write_batch(events + events[:3], [], received=20)
    assert result == (17, 3, 0)
    again = store.write_batch(events[:5], [], received=5)
    assert again == (0, 5, 0)
    totals = store.load_totals()
    assert totals == {"received": 25, "inserted": 17, "duplicates": 8, "dead_letters": 0, "control_messages": 0,
                      "credential_errors": 0}


def test_rollups_are_updated_only_for_new_rows(store):
    events = fixture_events() + fixture_events("v6.10")
    store.write_batch(events, [], received=len(events))
    store.write_batch(events, [], received=len(events))  # all duplicates: rollups must not move
    assert tuple(rollup_totals(store)) == tuple(event_totals(store))
    buckets = store.reader.execute("SELECT DISTINCT bucket_ms FROM usage_rollup").fetchall()
    assert all(b[0] % 300_000 == 0 for b in buckets)


def test_rollup_first_and_last_seen(store):
    early = decode_payload(encode(record(timestamp="2026-08-22T09:30:00.100Z")), RECEIVED)
    late = decode_payload(encode(record(timestamp="2026-08-22T09:31:00.200Z")), RECEIVED)
    store.write_batch([late], [], received=1)
    store.write_batch([early], [], received=1)
    row = store.reader.execute("SELECT requests, first_ms, last_ms FROM usage_rollup").fetchone()
    assert row == (2, early.ts_ms, late.ts_ms)


def test_dead_letters_keep_raw_bytes_and_reason(store):
    store.write_batch([], [DeadLetter(RECEIVED, "lpop", "not JSON: boom", b"\xffgarbage")], received=1)
    letters = store.list_dead_letters()
    assert letters == [DeadLetter(RECEIVED, "lpop", "not JSON: boom", b"\xffgarbage", 8)]
    assert store.load_totals()["dead_letters"] == 1


def test_a_failing_batch_leaves_nothing_behind(store):
    events = fixture_events()
    broken = DeadLetter(None, "lpop", "x", b"x")  # received_ms NOT NULL: the insert fails
    with pytest.raises(Exception, match="(?i)not.null") as raised:
        store.write_batch(events, [broken], received=18)
    assert type(raised.value).__name__ in ("IntegrityError", "NotNullViolation")
    assert store.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0] == 0
    assert store.reader.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0] == 0
    assert store.load_totals()["received"] == 0


def test_events_page_is_newest_first(store):
    store.write_batch(fixture_events(), [], received=17)
    everything = Query(0, 2**62)
    rows, total = store.list_events(everything, 1, 5)
    assert total == 17 and len(rows) == 5
    stamps = [r["ts_ms"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    last_page, _ = store.list_events(everything, 4, 5)
    assert len(last_page) == 2


def test_retention_removes_old_raw_events_but_keeps_rollups(store):
    events = fixture_events()
    cutoff = sorted(e.ts_ms for e in events)[10]
    errors = [decode_error_event(encode({"timestamp": iso_ms(at), "status_code": 429, "auth_index": "a"}), at)
              for at in (cutoff - 1, cutoff)]
    store.write_batch(events, [DeadLetter(events[0].ts_ms - 1, "lpop", "x", b"x")], received=18, errors=errors)
    before = tuple(rollup_totals(store))
    removed = store.delete_events_before(cutoff)
    assert removed == (sum(1 for e in events if e.ts_ms < cutoff), 1, 1)
    assert store.credential_errors(0, 2**62)[1] == 1  # the one at the cut-off stays, like the raw events
    assert store.reader.execute("SELECT MIN(ts_ms) FROM usage_events").fetchone()[0] >= cutoff
    assert store.list_dead_letters() == []
    assert tuple(rollup_totals(store)) == before
    store.compact()


def test_transient_errors_are_told_apart():
    assert is_transient_db_error(sqlite3.OperationalError("database is locked"))
    assert is_transient_db_error(sqlite3.OperationalError("database or disk is full"))
    assert not is_transient_db_error(sqlite3.OperationalError("no such table: x"))
    assert not is_transient_db_error(ValueError("database is locked"))


def test_meta_round_trip(store):
    assert store.get_meta("k") is None and store.get_meta("k", "d") == "d"
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.get_meta("k") == "v2"


# -- the rollup cache ---------------------------------------------------------------

DAY = 86_400_000


def events_at(*times, model="gpt-5.4"):
    return [decode_payload(encode(record(timestamp=f"{t}", request_id=f"r-{t}", model=model)), RECEIVED)
            for t in times]


def traced(store):
    """The reads store.reader runs from now on (each part of a UNION ALL on its own)."""
    statements: list[str] = []
    store.reader.set_trace_callback(lambda sql: statements.extend(sql.split(" UNION ALL ")))
    return statements


@sqlite_only  # PostgreSQL keeps no rollup reads (see Store)
def test_repeated_reads_are_served_from_kept_rows(store):
    store.write_batch(events_at("2026-05-01T10:00:00Z", "2026-05-20T10:00:00Z"), [], received=2)
    query = Query(1_777_593_600_000, 1_777_593_600_000 + 30 * DAY)  # 2026-05-01 .. 05-31
    first = store.aggregate(query, ("model",), 3_600_000)
    statements = traced(store)
    assert store.aggregate(query, ("model",), 3_600_000) == first
    assert store.count(query) == {(): 2}
    reads = [s for s in statements if "FROM usage_" in s]
    assert [s for s in reads if "usage_series_hourly" in s] == []  # the month of hours was kept
    assert len(reads) == 1 and "usage_timeline_daily" in reads[0]  # count: read once, kept from now on
    assert store.count(query) == {(): 2} and len([s for s in statements if "FROM usage_" in s]) == 1


def test_a_write_in_the_span_of_kept_rows_is_seen(store):
    query = Query(1_777_593_600_000, 1_777_593_600_000 + 30 * DAY)
    store.write_batch(events_at("2026-05-01T10:00:00Z"), [], received=1)
    assert store.count(query) == {(): 1}
    store.write_batch(events_at("2026-05-15T10:00:00Z"), [], received=1)
    assert store.count(query) == {(): 2}
    assert store.aggregate(query, ("model",))[("gpt-5.4",)][0] == 2


@sqlite_only  # PostgreSQL keeps no rollup reads (see Store)
def test_a_write_by_another_process_is_seen(tmp_path, new_database):
    path = str(tmp_path / "shared.db")
    reader, writer = Store(path), Store(path)
    try:
        query = Query(1_777_593_600_000, 1_777_593_600_000 + 30 * DAY)
        reader.write_batch(events_at("2026-05-01T10:00:00Z"), [], received=1)
        assert reader.count(query, ("model",)) == {("gpt-5.4",): 1}
        writer.write_batch(events_at("2026-05-15T10:00:00Z", model="gpt-5.4-mini"), [], received=1)
        assert reader.count(query, ("model",)) == {("gpt-5.4",): 1, ("gpt-5.4-mini",): 1}
    finally:
        reader.close()
        writer.close()


@sqlite_only  # PostgreSQL keeps no rollup reads (see Store)
def test_changes_pruned_unseen_make_the_cache_start_over(store):
    query = Query(1_777_593_600_000, 1_777_593_600_000 + 30 * DAY)
    store.write_batch(events_at("2026-05-01T10:00:00Z"), [], received=1)
    assert store.count(query) == {(): 1}
    store.write_batch(events_at("2026-05-15T10:00:00Z"), [], received=1)
    store.write_batch(events_at("2027-01-01T10:00:00Z"), [], received=1)  # outside the range
    with store.write_lock:  # as the sweep prunes: all but the newest change, unseen by the reader
        store._writer.execute("DELETE FROM rollup_changes WHERE seq < (SELECT MAX(seq) FROM rollup_changes)")
    assert store.count(query) == {(): 2}


@sqlite_only  # PostgreSQL keeps no rollup reads (see Store)
def test_the_cache_keeps_at_most_max_rows(store, monkeypatch):
    monkeypatch.setattr(RollupCache, "MAX_ROWS", 30)
    store.write_batch(events_at(*(f"2026-05-{d:02d}T10:00:00Z" for d in range(1, 29))), [], received=28)
    for days in range(2, 20):
        store.count(Query(1_777_593_600_000, 1_777_593_600_000 + days * DAY), step_ms=DAY)
    assert 0 < store.cache._rows <= 30
    assert store.cache._rows == sum(len(rows) for _, _, rows in store.cache._entries.values())


def test_a_range_that_ends_now_reads_its_open_bucket_from_the_rollup(store):
    store.write_batch(events_at("2026-05-01T10:00:30Z", "2026-05-01T10:02:00Z", "2026-05-01T10:04:30Z"), [],
                      received=3)
    start, end = 1_777_629_600_000 - 3_600_000, 1_777_629_600_000 + 180_000  # 09:00 .. 10:03
    exact = Query(start, end)
    assert store.count(exact) == {(): 2}
    assert store.aggregate(exact, ("model",))[("gpt-5.4",)][0] == 2
    pieces = store.plan(Query(start, end, open_end=True), (), None)
    assert None not in [rollup for rollup, _, _ in pieces]  # no raw events read at all
    assert pieces[-1][1:] == (1_777_629_600_000, 1_777_629_600_000 + 300_000)
    # Ending now, the bucket is read whole: the record stamped after ``end`` counts (it
    # could only be a moment ahead of the clock).
    assert store.count(Query(start, end, open_end=True)) == {(): 3}
    assert store.aggregate(Query(start, end, open_end=True), ("model",))[("gpt-5.4",)][0] == 3
    # The start edge stays exact, open end or not: [10:01, 10:03) holds the 10:02 record only.
    assert store.count(Query(start + 3_600_000 + 60_000, end, open_end=True)) == {(): 1}


# (model, from, until, tier, bands from, bands until, standing in for the tier's, USD per 1M of each kind)
PRICES = [("gpt-5.4", 0, 2**62, "", 0, PROMPT_BANDS, 0, 1.25, 10.0, 0.125, 0.0, 10.0),
          ("claude-sonnet-4-5", 0, 2**62, "", 0, PROMPT_BANDS, 0, 3.0, 15.0, 0.3, 3.75, 15.0)]


def test_a_priced_series_without_models_costs_what_its_models_cost(store):
    stamps = [f"2026-05-{d:02d}T{h:02d}:{m:02d}:00Z" for d in (1, 2, 3) for h in (0, 7, 13) for m in (5, 40)]
    store.write_batch(events_at(*stamps[::2]) + events_at(*stamps[1::2], model="claude-sonnet-4-5")
                      + events_at("2026-05-02T07:10:00Z", model="unpriced-model"), [], received=19)
    query = Query(1_777_593_600_000 + 1_800_000, 1_777_593_600_000 + 3 * DAY - 1_800_000)  # unaligned ends
    per_model = store.aggregate(query, ("failed", "model"), 3_600_000, PRICES)
    expected: dict = {}
    for (hour, failed, _), acc in per_model.items():
        cost, unpriced = expected.get((hour, failed), (0.0, 0))
        expected[(hour, failed)] = (cost + acc.cost_usd, unpriced + acc.unpriced_requests)
    series = store.aggregate(query, ("failed",), 3_600_000, PRICES)
    assert {key: (pytest.approx(acc.cost_usd), acc.unpriced_requests) for key, acc in series.items()} == expected
    assert sum(acc.unpriced_requests for acc in series.values()) == 1  # the unpriced model's request, counted apart
    assert sum(acc[0] for acc in series.values()) == 18  # 19 events, one before the range starts
    assert sum(acc.cost_usd for acc in series.values()) > 0


@sqlite_only  # PostgreSQL keeps no rollup reads (see Store)
def test_a_range_that_slides_by_an_hour_rereads_only_its_ends(store):
    store.write_batch(events_at(*(f"2026-05-{d:02d}T{h:02d}:00:00Z" for d in range(1, 13) for h in (3, 9, 15, 21))),
                      [], received=48)
    start = 1_777_593_600_000 + 5 * 3_600_000  # 05:00 on 05-01, ten days long
    first = store.aggregate(Query(start, start + 10 * DAY), ("failed",), 3_600_000, PRICES)
    statements = traced(store)
    slid = Query(start + 3_600_000, start + 10 * DAY + 3_600_000)
    again = store.aggregate(slid, ("failed",), 3_600_000, PRICES)
    hourly_reads = [s for s in statements if "_hourly" in s]
    assert 0 < len(hourly_reads) <= 4  # the first and the last day, for measures and cost: not all ten
    for read in hourly_reads:  # each a day at most (the statements come with their values)
        lo, hi = map(int, re.search(r"bucket_ms >= (\d+) AND bucket_ms < (\d+)", read).groups())
        assert hi - lo <= DAY
    store.cache = None
    assert again == store.aggregate(slid, ("failed",), 3_600_000, PRICES)  # the same as read afresh
    assert len(first) == len(again) == 40


@sqlite_only  # the query plan is SQLite's
def test_one_keys_counts_and_hours_are_read_from_indexes_alone(store):
    store.write_batch(events_at("2026-05-01T10:00:00Z", "2026-05-03T10:20:00Z"), [], received=2)
    key = store.distinct_values("api_key")[0]
    statements = traced(store)
    query = Query(1_777_593_600_000 + 900_000, 1_777_593_600_000 + 3 * DAY + 900_000, api_keys=(key,))
    assert store.count(query, (), 900_000, failures=True) == {(1_777_629_600_000,): [1, 0],
                                                             (1_777_803_300_000,): [1, 0]}
    assert store.count(query) == {(): 2}
    hours = store.aggregate(query, (), 3_600_000, PRICES)  # a key's hourly series, with its cost
    assert sorted(hours) == [(1_777_629_600_000,), (1_777_802_400_000,)] and hours[(1_777_629_600_000,)].cost_usd > 0
    reads = [s for s in statements if "FROM usage_key" in s]
    # counts and measures from the key timeline (no models), the cost of the hours per model
    assert {re.search(r"FROM (usage_key\w*)", s).group(1) for s in reads} == {
        "usage_key_timeline", "usage_key_timeline_hourly", "usage_key_timeline_daily", "usage_keys",
        "usage_keys_hourly"}
    assert all("prices" in s for s in reads if "FROM usage_keys" in s)
    for sql in reads:  # one key's counts, its hours' measures and their cost: no table row read
        if "prices" in sql and "usage_keys_hourly" not in sql:
            continue  # the cost of quarter-hour edges: few rows, from the table
        plan = " ".join(row[-1] for row in store.reader.execute("EXPLAIN QUERY PLAN " + sql))
        assert "USING COVERING INDEX usage_key" in plan, (sql, plan)


def test_more_reads_than_one_compound_select_may_hold_are_read_in_parts():
    conn = sqlite3.connect(":memory:")  # SQLite refuses more than 500 terms in one UNION ALL
    reads = [Read(Piece(None, 0, 0), "SELECT ? AS a, ? AS b", [i, i * 2]) for i in range(600)]
    assert RollupCache._fetch(conn, reads) == [[(i, i * 2)] for i in range(600)]
    conn.close()


@sqlite_only  # PostgreSQL's planner has no skip-scan
def test_a_read_of_every_key_seeks_the_time_not_each_key(store):
    """After the sweep's sampled ANALYZE, a read of every client key over a range walks the
    range (the primary key begins with the time), not the key index once per key (a
    skip-scan: twice as slow over years of 500 keys); the statistics say so to every
    connection opened later, and a store that opens a database ANALYZEd before says so too."""
    day = 1_777_593_600_000  # 2026-05-01
    events = [decode_payload(encode(record(timestamp=iso_ms(day + d * DAY + k * 60_000), request_id=f"r-{d}-{k}",
                                           api_key=f"sk-key-{k:03d}", model="gpt-5.4")), RECEIVED)
              for d in range(60) for k in range(60)]
    store.write_batch(events, [], received=len(events))
    sql = ("SELECT api_key, SUM(requests) FROM usage_keys_daily WHERE bucket_ms >= ? AND bucket_ms < ? "
           "GROUP BY api_key")

    def plan(conn):
        return " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (day, day + 60 * DAY)))

    store.compact()
    tables = {rollup.table for rollup in ROLLUPS}
    marked = {idx: stat for table, idx, stat in store.reader.execute("SELECT tbl, idx, stat FROM sqlite_stat1")
              if table in tables}
    secondary = {name for name in marked if not name.startswith("sqlite_autoindex")}
    assert "usage_keys_daily_api_key" in secondary and "usage_credentials_source" in secondary
    assert all(marked[name].endswith(" noskipscan") for name in secondary), marked
    assert all("noskipscan" not in marked[name] for name in set(marked) - secondary)
    fresh = sqlite3.connect(store.path)
    try:
        assert "ANY(api_key)" not in plan(fresh) and "sqlite_autoindex_usage_keys_daily_1" in plan(fresh)
        # without the word, the same statistics make the planner skip-scan the key index
        store._writer.execute("UPDATE sqlite_stat1 SET stat = replace(stat, ' noskipscan', '')")
        store._writer.execute("ANALYZE sqlite_schema")
        assert "ANY(api_key)" in plan(store._writer)
        reopened = Store(store.path)  # a store opened on such statistics marks them again
        reopened.close()
        again = sqlite3.connect(store.path)
        assert "ANY(api_key)" not in plan(again)
        again.close()
    finally:
        fresh.close()
