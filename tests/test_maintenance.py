"""Operations: the retention sweep (driven by an injected clock, DST days included),
ROLLUP_RETENTION_DAYS, backups of a live database, and log files kept LOG_RETENTION_DAYS."""

import datetime as dt
import logging
import sqlite3
import threading
import zoneinfo

import pytest

from backends import wait_for
from conftest import base_env, encode, record
from cpa_usage import (DAY_MS, FOUR_WEEKS_MS, HISTOGRAMS, HOUR_MS, ROLLUPS, ConfigError, DeadLetter, Maintenance, Query,
                       Store, decode_payload, iso_ms, load_config, main, setup_logging)

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def events_at(*stamps):
    return [decode_payload(encode(record(timestamp=t, request_id=f"r-{t}")), ms(t)) for t in stamps]


def raw_count(store):
    return store.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]


# -- when it runs --------------------------------------------------------------------

@pytest.mark.parametrize("now, next_run, last_due", [
    # an ordinary day (EST, UTC-5)
    ("2026-03-06T12:00:00Z", "2026-03-07T08:00:00Z", "2026-03-06T08:00:00Z"),
    # the spring-forward day: 02:00 EST jumps to 03:00 EDT, so 03:00 is 07:00 UTC
    ("2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z", "2026-03-07T08:00:00Z"),
    ("2026-03-08T07:00:00Z", "2026-03-09T07:00:00Z", "2026-03-08T07:00:00Z"),
    # the fall-back day: 01:00-02:00 happens twice, 03:00 EST is 08:00 UTC
    ("2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z", "2026-10-31T07:00:00Z"),
    ("2026-11-01T08:00:01Z", "2026-11-02T08:00:00Z", "2026-11-01T08:00:00Z"),
])
def test_the_sweep_is_at_three_local_time_across_dst(store, now, next_run, last_due):
    maintenance = Maintenance(store, NEW_YORK, 30)
    assert maintenance.next_run_after(ms(now)) == ms(next_run)
    assert maintenance.last_due_at(ms(now)) == ms(last_due)


def test_a_missed_sweep_is_run_at_start_then_the_next_waits_for_three(store):
    now = ms("2026-03-08T12:00:00Z")
    store.write_batch(events_at("2026-01-01T00:00:00Z", "2026-03-08T11:00:00Z"), [], received=2)
    maintenance = Maintenance(store, NEW_YORK, 30, clock=lambda: now)
    assert maintenance.missed(now)
    maintenance.start()
    try:
        wait_for(lambda: maintenance.last_report is not None, what="the sweep at start")
    finally:
        maintenance.stop()
    assert maintenance.last_report["events"] == 1 and raw_count(store) == 1
    assert not maintenance.missed(now)
    assert not maintenance.missed(ms("2026-03-09T06:59:00Z"))  # the next 03:00 EDT is 07:00 UTC
    assert maintenance.missed(ms("2026-03-09T07:00:00Z"))


def test_a_sweep_on_the_dst_day_cuts_exactly_the_retention_window(store):
    at = ms("2026-03-08T07:00:00Z")  # 03:00 EDT on the spring-forward day
    store.write_batch(events_at("2026-03-07T06:59:59Z", "2026-03-07T07:00:00Z", "2026-03-08T06:00:00Z"),
                      [DeadLetter(at - DAY_MS - 1, "lpop", "x", b"old"), DeadLetter(at - 5, "lpop", "y", b"new")],
                      received=5)
    report = Maintenance(store, NEW_YORK, 1).sweep(at)
    assert (report["events"], report["dead_letters"], report["rollup_rows"]) == (1, 1, 0)
    assert [d.payload for d in store.list_dead_letters()] == [b"new"]
    assert store.reader.execute("SELECT MIN(ts_ms) FROM usage_events").fetchone()[0] == at - DAY_MS
    assert store.count(Query(0, 2**62)) == {(): 3}  # the rollups keep the removed event


def test_usage_retention_zero_keeps_raw_events_forever(store):
    store.write_batch(events_at("2020-01-01T00:00:00Z"), [], received=1)
    report = Maintenance(store, NEW_YORK, 0).sweep(ms("2026-03-08T07:00:00Z"))
    assert report["events"] == 0 and raw_count(store) == 1


# -- what it removes -----------------------------------------------------------------

def test_rollup_retention_removes_old_buckets_of_every_rollup(store):
    at = ms("2026-06-30T07:00:00Z")
    store.write_batch(events_at("2026-01-10T10:00:00Z", "2026-06-20T10:00:00Z"), [], received=2)
    everything = Query(0, 2**62)
    assert store.count(everything) == {(): 2}  # asked before: the answer is kept ...
    report = Maintenance(store, NEW_YORK, 30, rollup_retention_days=90).sweep(at)
    # a row of each rollup, and of each histogram a latency and a TTFT row
    assert report["events"] == 1 and report["rollup_rows"] == len(ROLLUPS) + 2 * len(HISTOGRAMS)
    for rollup in ROLLUPS + HISTOGRAMS:
        oldest = store.reader.execute(f"SELECT MIN(bucket_ms) FROM {rollup.table}").fetchone()[0]
        assert oldest >= at - 90 * DAY_MS - rollup.bucket_ms, rollup.table
    assert store.count(everything) == {(): 1}  # ... and dropped when the sweep removed its buckets


def test_rollup_retention_keeps_a_bucket_its_cut_goes_through_whole(store):
    """Four weeks that the cut goes through stay whole: a range holding them still counts
    what their days after the cut hold (the days before it go)."""
    at = ms("2026-06-30T07:00:00Z")
    cut = at - 30 * DAY_MS
    start = cut - cut % FOUR_WEEKS_MS
    assert start + DAY_MS < cut < start + FOUR_WEEKS_MS - 2 * DAY_MS  # the cut goes through four weeks
    before, after = iso_ms(start + HOUR_MS), iso_ms(cut + DAY_MS)
    store.write_batch(events_at(before, after), [], received=2)
    Maintenance(store, NEW_YORK, 10, rollup_retention_days=30).sweep(at)
    assert store.reader.execute("SELECT SUM(requests) FROM usage_series_4weekly").fetchone()[0] == 2
    assert store.reader.execute("SELECT SUM(requests) FROM usage_series_daily").fetchone()[0] == 1
    assert store.count(Query(start, start + FOUR_WEEKS_MS)) == {(): 2}
    assert store.count(Query(cut - cut % DAY_MS + DAY_MS, start + FOUR_WEEKS_MS)) == {(): 1}


@pytest.mark.parametrize("usage, rollup", [("30", "29"), ("0", "365")])
def test_rollups_may_not_be_dropped_before_raw_events(tmp_path, usage, rollup):
    env = base_env(tmp_path, USAGE_RETENTION_DAYS=usage, ROLLUP_RETENTION_DAYS=rollup)
    with pytest.raises(ConfigError, match="ROLLUP_RETENTION_DAYS=.* expected 0 \\(forever\\) or at least"):
        load_config(env)


def test_deletes_are_many_short_transactions(store, monkeypatch):
    stamps = [(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=7 * i)).isoformat()
              for i in range(300)]
    store.write_batch(events_at(*stamps), [], received=300)
    monkeypatch.setattr(Store, "DELETE_SECONDS", 0.0)  # every window as small as allowed
    statements = []
    store._writer.set_trace_callback(statements.append)
    cutoff = ms("2026-01-02T00:00:00Z")
    removed, _, _ = store.delete_events_before(cutoff)
    assert removed == sum(1 for t in stamps if ms(t) < cutoff) == 206
    deletes = [s for s in statements if s.startswith("DELETE FROM usage_events")]
    assert len(deletes) >= 10  # a window of seconds at a time, not one long transaction
    assert store.reader.execute("SELECT MIN(ts_ms) FROM usage_events").fetchone()[0] >= cutoff


def test_the_sweep_frees_pages_analyzes_and_prunes_the_change_log(store):
    stamps = [(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=30 * i)).isoformat()
              for i in range(3000)]
    for i in range(0, 3000, 500):
        store.write_batch(events_at(*stamps[i:i + 500]), [], received=500)
    with store.write_lock:
        store._writer.execute("UPDATE rollup_changes SET changed_ms = 0")
    report = Maintenance(store, NEW_YORK, 1).sweep(ms("2026-06-01T07:00:00Z"))
    assert report["events"] == 3000
    assert report["bytes_freed"] > 1_000_000
    assert store.reader.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert store.reader.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0] > 0
    assert store.reader.execute("SELECT COUNT(*) FROM rollup_changes").fetchone()[0] == 1  # the newest stays


def test_status_reports_the_last_sweep(config_factory):
    from cpa_usage import Service

    service = Service(config_factory(USAGE_RETENTION_DAYS="7", TZ="America/New_York"))
    try:
        assert service.status_report()["maintenance"]["last_run_at"] is None
        service.store.write_batch(events_at("2026-01-01T00:00:00Z"), [], received=1)
        service.maintenance.sweep(ms("2026-03-08T07:00:00Z"))
        report = service.status_report()["maintenance"]
        assert report["last_run_at"] == "2026-03-08T07:00:00.000Z"
        assert report["last_removed"] == {"events": 1, "dead_letters": 0, "credential_errors": 0, "rollup_rows": 0}
        assert report["usage_retention_days"] == 7 and report["rollup_retention_days"] == 0
        assert report["next_run_at"].endswith(("07:00:00.000Z", "08:00:00.000Z"))
    finally:
        service.store.close()


# -- backups -------------------------------------------------------------------------

def test_backup_of_a_database_being_written_is_consistent(tmp_path, capsys):
    database = str(tmp_path / "live.db")
    store = Store(database)
    stop = threading.Event()
    written = []

    def keep_writing():
        i = 0
        while not stop.is_set():
            stamp = (dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i)).isoformat()
            store.write_batch(events_at(stamp), [], received=1)
            written.append(i)
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        wait_for(lambda: len(written) > 50, what="writes before the backup")
        assert main(["backup", str(tmp_path / "copy.db"), "--db", database]) == 0
        wait_for(lambda: len(written) > 100, what="writes after the backup")
    finally:
        stop.set()
        writer.join()
        store.close()
    assert "backed up" in capsys.readouterr().out
    assert not (tmp_path / "copy.db-wal").exists() and not (tmp_path / "copy.db.partial").exists()
    copy = sqlite3.connect(tmp_path / "copy.db")
    events = copy.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]
    assert 50 < events < len(written)  # a snapshot taken while writing went on
    # consistent: the copy's rollups and running totals agree with its raw events
    for rollup in ROLLUPS:
        assert copy.execute(f"SELECT SUM(requests) FROM {rollup.table}").fetchone()[0] == events
    assert copy.execute("SELECT value FROM meta WHERE key = 'totals.inserted'").fetchone()[0] == str(events)
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy.close()
    reopened = Store(str(tmp_path / "copy.db"))  # and a service can run on it (the restore)
    assert reopened.count(Query(0, 2**62)) == {(): events}
    reopened.close()


def test_backup_refuses_to_overwrite_or_to_copy_nothing(tmp_path, capsys):
    Store(str(tmp_path / "a.db")).close()
    (tmp_path / "taken.db").write_bytes(b"keep me")
    assert main(["backup", str(tmp_path / "taken.db"), "--db", str(tmp_path / "a.db")]) == 1
    assert (tmp_path / "taken.db").read_bytes() == b"keep me"
    assert main(["backup", str(tmp_path / "b.db"), "--db", str(tmp_path / "missing.db")]) == 1
    errors = capsys.readouterr().err
    assert "exists; choose a new name" in errors and "no database at" in errors


# -- log files -------------------------------------------------------------------------

def test_log_files_rotate_daily_and_keep_log_retention_days(tmp_path):
    config = load_config(base_env(tmp_path, LOG_FILE_ENABLED="true", LOG_DIR=str(tmp_path / "logs"),
                                  LOG_RETENTION_DAYS="3"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(config)
        handler = next(h for h in root.handlers if isinstance(h, logging.handlers.TimedRotatingFileHandler))
        assert handler.when == "MIDNIGHT"
        for day in range(1, 8):  # a week of rotated files from earlier days
            (tmp_path / "logs" / f"cpa-usage.log.2026-11-0{day}").write_text("old\n")
        logging.getLogger("cpa_usage").warning("before the rotation")
        handler.doRollover()
        logging.getLogger("cpa_usage").warning("after the rotation")
        names = sorted(p.name for p in (tmp_path / "logs").iterdir())
        rotated = [n for n in names if n != "cpa-usage.log"]
        assert len(rotated) == 3 and "cpa-usage.log.2026-11-01" not in rotated
        assert "after the rotation" in (tmp_path / "logs" / "cpa-usage.log").read_text()
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
