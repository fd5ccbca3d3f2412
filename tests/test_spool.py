"""The ingest writer's spool: the file beside the database where records wait when memory
cannot hold them (the database refuses writes) and where a stop leaves what it could not
commit. What waits there and is read back, the offset a stop notes, a damaged line or
offset, a record handed over after the stop, a spool removed or replaced by hand: every
record is committed once (one read twice is kept single by its identity), none is lost."""

import contextlib
import json
import sqlite3

import pytest

from backends import wait_for
from conftest import encode, payload_lines, record, sqlite_only
from cpa_usage import Store

RECEIVED = 1_790_000_000_000


def spool_line(payload: bytes) -> bytes:
    """A record as the ingest writer spools it."""
    return json.dumps({"received_ms": RECEIVED, "via": "lpop", "payload": payload.hex()}).encode() + b"\n"


@sqlite_only
def test_a_damaged_spool_line_is_kept_aside_not_fatal(tmp_path, new_database):
    from cpa_usage import DrainStatus, IngestWriter

    store = Store(str(tmp_path / "spool.db"))
    spool = tmp_path / "spool.db.spool"
    good = payload_lines("v7.2")[0]
    spool.write_bytes(spool_line(good) + b'{"received_ms": 1, "via": "lp')  # the last line cut short by a crash
    writer = IngestWriter(store, DrainStatus(), 100, spool_path=str(spool))
    try:
        writer.start()
        assert writer.stop(5.0)
        assert store.load_totals()["inserted"] == 1 and store.load_totals()["dead_letters"] == 1
        letter = store.list_dead_letters()[0]
        assert letter.via == "spool" and letter.reason.startswith("unreadable spool line")
        assert bytes(letter.payload) == b'{"received_ms": 1, "via": "lp' and not spool.exists()
    finally:
        store.close()


def spool_writer(tmp_path, memory_records, batch=10):
    from cpa_usage import DrainStatus, IngestWriter

    store = Store(str(tmp_path / "spool.db"))
    writer = IngestWriter(store, DrainStatus(), batch, spool_path=str(tmp_path / "spool.db.spool"))
    writer.MEMORY_RECORDS = memory_records
    return store, writer


def distinct_payloads(n):
    return [encode(record(request_id=f"spool-{i}", timestamp="2026-05-01T10:00:00Z")) for i in range(n)]


def spool_lines(tmp_path):
    path = tmp_path / "spool.db.spool"
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@sqlite_only
def test_what_memory_cannot_hold_waits_in_the_spool(tmp_path, new_database):
    store, writer = spool_writer(tmp_path, memory_records=20)
    blocker = sqlite3.connect(tmp_path / "spool.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # the database refuses writes: everything must wait somewhere
    try:
        writer.start()
        for payload in distinct_payloads(100):
            writer.put(payload, "subscribe")
            assert writer.in_memory <= 20
        wait_for(lambda: writer.stalled, what="the writer to meet the lock")
        assert writer.pending == 100 and writer.spooled >= 100 - 20 - 10
        assert spool_lines(tmp_path) == writer.spooled
        blocker.rollback()
        wait_for(lambda: writer.pending == 0, what="memory and spool committed")
        assert store.load_totals()["inserted"] == 100 and store.load_totals()["duplicates"] == 0
        assert not (tmp_path / "spool.db.spool").exists()  # read back and committed: removed
        writer.put(distinct_payloads(101)[100], "subscribe")  # and memory is used again
        wait_for(lambda: writer.pending == 0, what="the next record")
        assert store.load_totals()["inserted"] == 101 and not (tmp_path / "spool.db.spool").exists()
    finally:
        blocker.close()
        writer.stop(5.0)
        store.close()


@contextlib.contextmanager
def refused_spool(tmp_path):
    """A writer with 50 records in the spool (memory holds none) and a database that
    refuses them: a batch was read back and refused. Yields (store, writer, blocker)."""
    store, writer = spool_writer(tmp_path, memory_records=0)
    blocker = sqlite3.connect(tmp_path / "spool.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer.start()
        for payload in distinct_payloads(50):
            writer.put(payload, "subscribe")
        wait_for(lambda: writer.stalled, what="a batch read back from the spool and refused")
        yield store, writer, blocker
    finally:
        if blocker.in_transaction:
            blocker.rollback()
        blocker.close()
        writer.stop(5.0)
        store.close()


@sqlite_only
def test_a_stop_keeps_the_spool_whole_and_the_next_start_reads_each_record_once(tmp_path, new_database):
    with refused_spool(tmp_path) as (_, writer, _):
        assert not writer.stop(0.3)  # the deadline passes with the database still locked
        # the batch that was read back is written again, and where reading stopped is noted
        # (the file is not rewritten): 50 lines after the offset
        offset = int((tmp_path / "spool.db.spool.offset").read_text())
        spool = (tmp_path / "spool.db.spool").read_bytes()
        assert spool[offset - 1:offset] == b"\n" and len(spool[offset:].splitlines()) == 50
        assert len(spool.splitlines()) == 60
    store, writer = spool_writer(tmp_path, memory_records=0)
    try:
        writer.start()  # (what is pending is not asserted: the writer may have committed it already)
        assert writer.stop(10.0)
        totals = store.load_totals()
        assert totals["inserted"] == 50 and totals["duplicates"] == 0 and totals["received"] == 50
        assert not (tmp_path / "spool.db.spool").exists() and not (tmp_path / "spool.db.spool.offset").exists()
    finally:
        store.close()


@sqlite_only
def test_a_stop_that_cannot_note_its_offset_still_ends_and_loses_nothing(tmp_path, new_database, caplog):
    with refused_spool(tmp_path) as (_, writer, _):
        (tmp_path / "spool.db.spool.offset.tmp").mkdir()  # the note cannot be written
        assert not writer.stop(0.3)
        assert "could not note how far" in caplog.text and not (tmp_path / "spool.db.spool.offset").exists()
        writer.put(distinct_payloads(51)[50], "subscribe")  # the stop ended: what comes now is spooled
        assert spool_lines(tmp_path) == 61
    (tmp_path / "spool.db.spool.offset.tmp").rmdir()
    store, writer = spool_writer(tmp_path, memory_records=0)
    try:
        writer.start()
        assert writer.stop(10.0)
        totals = store.load_totals()
        # read again from its start: 61 received, the 10 committed before the stop duplicates
        assert totals["received"] == 61 and totals["inserted"] == 51 and totals["duplicates"] == 10
    finally:
        store.close()


@sqlite_only
@pytest.mark.parametrize("offset", ["7", "-3", "999999", "garbage"])
def test_an_offset_that_is_not_the_start_of_a_line_reads_the_whole_spool(tmp_path, new_database, offset):
    """A spool whose noted offset does not fit it (edited, or another spool) is read from
    its start: records are read twice rather than lost; their identity keeps them single."""
    (tmp_path / "spool.db.spool").write_bytes(b"".join(spool_line(payload) for payload in distinct_payloads(5)))
    (tmp_path / "spool.db.spool.offset").write_text(offset)
    store, writer = spool_writer(tmp_path, memory_records=0)
    try:
        writer.start()  # (what is pending is not asserted here: the writer may have committed it already)
        assert writer.stop(10.0) and store.load_totals()["inserted"] == 5  # all five: read from the start
        assert not (tmp_path / "spool.db.spool").exists() and not (tmp_path / "spool.db.spool.offset").exists()
    finally:
        store.close()


@sqlite_only
def test_a_spool_read_to_its_end_before_a_stop_is_removed_at_the_next_start(tmp_path, new_database):
    spool = tmp_path / "spool.db.spool"
    spool.write_bytes(b'{"received_ms": 1, "via": "lpop", "payload": "7b7d"}\n')
    (tmp_path / "spool.db.spool.offset").write_text(str(len(spool.read_bytes())))
    store, writer = spool_writer(tmp_path, memory_records=0)
    try:
        writer.start()
        assert writer.pending == 0 and not spool.exists() and not (tmp_path / "spool.db.spool.offset").exists()
        assert writer.stop(5.0) and store.load_totals()["received"] == 0
    finally:
        store.close()


@sqlite_only
def test_a_record_handed_over_after_the_writer_stopped_waits_in_the_spool(tmp_path, new_database):
    store, writer = spool_writer(tmp_path, memory_records=100)
    try:
        writer.start()
        assert writer.stop(5.0)
        writer.put(distinct_payloads(1)[0], "subscribe")  # a subscription reader's last message
        assert writer.pending == 1 and spool_lines(tmp_path) == 1
    finally:
        store.close()
    store, writer = spool_writer(tmp_path, memory_records=100)
    try:
        writer.start()
        assert writer.stop(10.0)
        assert store.load_totals()["inserted"] == 1 and not (tmp_path / "spool.db.spool").exists()
    finally:
        store.close()


@sqlite_only
def test_a_spool_removed_by_hand_is_still_read_to_the_end(tmp_path, new_database):
    with refused_spool(tmp_path) as (store, writer, blocker):
        (tmp_path / "spool.db.spool").unlink()  # by hand, with 40 records waiting in it
        blocker.rollback()
        wait_for(lambda: writer.pending == 0, what="every spooled record committed")
        writer.put(distinct_payloads(51)[50], "subscribe")  # and the writer goes on
        wait_for(lambda: writer.pending == 0, what="the next record")
        totals = store.load_totals()
        assert totals["inserted"] == 51 and totals["duplicates"] == 0


@sqlite_only
def test_a_stop_adds_what_it_had_not_read_to_a_spool_replaced_by_hand(tmp_path, new_database):
    with refused_spool(tmp_path) as (_, writer, _):
        (tmp_path / "other").write_bytes(b'{"received_ms": 1, "via": "by hand", "payload": "7b7d"}\n')
        (tmp_path / "other").replace(tmp_path / "spool.db.spool")  # another file in its place, with 40 unread
        assert not writer.stop(0.3)
        assert spool_lines(tmp_path) == 1 + 50  # the file put there, then the unread lines and the refused batch
        assert not (tmp_path / "spool.db.spool.offset").exists()


@sqlite_only
def test_a_stop_keeps_what_a_spool_removed_by_hand_still_held(tmp_path, new_database):
    with refused_spool(tmp_path) as (_, writer, _):
        (tmp_path / "spool.db.spool").unlink()
        assert not writer.stop(0.3)
        assert spool_lines(tmp_path) == 50  # written anew: the unread lines and the refused batch
    store, writer = spool_writer(tmp_path, memory_records=0)
    try:
        writer.start()
        assert writer.stop(10.0) and store.load_totals()["inserted"] == 50
    finally:
        store.close()
