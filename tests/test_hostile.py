"""Records that try to stop, stall or poison the drain and the dashboard, each from a
hostile test run against main: nesting, lone surrogates, huge fields and records,
missing fields, a value the database will not take, a writer that dies; and a
property test that feeds arbitrary JSON and bytes through the whole path and then asks
every answer."""

import contextlib
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import wait_for
from conftest import encode, record, wsgi_call
from cpa_usage import (DEAD_LETTER_BYTES, MAX_BODY_CHARS, MAX_DEPTH, MAX_RECORD_BYTES, DeadLetter, DecodeError,
                       decode_error_event, decode_payload, iso_ms)
from test_drain import records, stored

RECEIVED = 1_790_000_000_000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def get(service, path, status=200):
    response = wsgi_call(service.app, "GET", "/usage/api/v1" + path)
    assert response.status == status, (path, response.status, response.body[:300])
    return response.json()


def reasons(service) -> list[str]:
    return sorted(letter.reason for letter in service.store.list_dead_letters())


ANSWERS = ["/usage/overview?range=all", "/usage/overview?range=24h", "/usage/analysis?range=all&group=both",
           "/usage/credentials?range=all", "/usage/events?page_size=500", "/usage/events/filters?range=all",
           "/usage/health", "/status", "/dead-letters?limit=500", "/auth-files?range=all", "/models/used",
           "/aliases", "/budgets", "/alerts", "/keys/idle", "/credential-errors?range=all"]


def every_answer_works(service):
    for path in ANSWERS:
        get(service, path)
    for path in ("/usage/events/export?format=jsonl", "/usage/events/export?format=csv",
                 "/usage/analysis/export?range=all&group=both"):
        response = wsgi_call(service.app, "GET", "/usage/api/v1" + path)
        assert response.status == 200, (path, response.body[:300])
    metrics = wsgi_call(service.app, "GET", "/usage/metrics")
    assert metrics.status == 200
    metrics.body.decode("utf-8")


# -- one record stops nothing ---------------------------------------------------------------


def test_a_record_nested_a_thousand_levels_goes_aside_and_the_drain_goes_on(fake_cpa, service_factory):
    cpa = fake_cpa()
    service = service_factory(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    poison = ('{"tokens":{},"x":' + nested(1000) + "}").encode()
    assert len(poison) < 2100
    cpa.publish(poison)
    for payload in records(3):
        cpa.publish(payload)
    wait_for(lambda: stored(service) == 3, what="the records after the poison")
    assert reasons(service) == ["not JSON that can be read: nested too deep"]
    assert service.writer.alive and service.writer.restarts == 0
    shallow_but_deep = encode(record(request_id="deep", extra_field=json.loads(nested(MAX_DEPTH + 1))))
    cpa.publish(shallow_but_deep)  # readable, but deeper than what is kept as JSON
    wait_for(lambda: len(reasons(service)) == 2, what="the second one")
    assert f"extra is nested deeper than {MAX_DEPTH} levels" in reasons(service)
    every_answer_works(service)


@pytest.mark.parametrize("field", ["model", "source", "auth_index", "api_key", "endpoint", "request_id",
                                   "timestamp", "user_agent", "unknown_field"])
def test_a_lone_surrogate_goes_aside(field):
    payload = json.dumps(record(**{field: "m\ud800x"})).encode()  # json.dumps writes the escape \\ud800
    assert b"\\ud800" in payload
    with pytest.raises(DecodeError, match="not valid Unicode"):
        decode_payload(payload, RECEIVED)


def test_lone_surrogates_do_not_stall_the_writer(fake_cpa, service_factory):
    cpa = fake_cpa()
    service = service_factory(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    for field in ("model", "user_agent", "unknown_field"):
        cpa.publish(json.dumps(record(request_id=field, **{field: "m\ud800x"})).encode())
    cpa.publish(records(1)[0])
    # (pending falls just after the commit that stores them: it is waited for too)
    wait_for(lambda: stored(service) == 1 and len(reasons(service)) == 3 and service.writer.pending == 0,
             what="the good one and three aside, nothing waiting")
    assert not service.writer.stalled
    every_answer_works(service)


def test_huge_fields_are_cut_and_flagged_huge_records_go_aside(fake_cpa, service_factory):
    cpa = fake_cpa()
    service = service_factory(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    body = "x" * (10 * 2**20)  # a 10 MB fail body
    cpa.publish(encode(record(request_id="bigbody", failed=True, fail={"status_code": 500, "body": body[:7_000_000]},
                              user_agent="u" * 10_000)))
    cpa.publish(encode(record(request_id="toobig", fail={"status_code": 500, "body": body})))
    wait_for(lambda: stored(service) == 1 and len(reasons(service)) == 1, what="one cut, one aside")
    event = get(service, "/usage/events")["items"][0]
    assert len(event["fail_body"]) == MAX_BODY_CHARS and event["truncated"] == ["user_agent", "fail.body"]
    assert len(event["user_agent"]) == 4096
    letter = service.store.list_dead_letters()[0]
    assert letter.reason == f"a record of {letter.size:,} bytes, more than {MAX_RECORD_BYTES:,}"
    assert len(letter.payload) == DEAD_LETTER_BYTES and letter.size > MAX_RECORD_BYTES
    shown = get(service, "/dead-letters")["items"][0]
    assert shown["truncated"] is True and shown["size"] == letter.size
    page = wsgi_call(service.app, "GET", "/usage/api/v1/usage/events?page_size=500")
    assert len(page.body) < 200_000  # 500 events of a 10 MB body would be 5 GB


def test_names_too_long_to_be_an_identity_go_aside():
    with pytest.raises(DecodeError, match="model is 5,000 characters long, more than 1,024"):
        decode_payload(encode(record(model="m" * 5000)), RECEIVED)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(value):
    """Python's parser takes them, Go never writes them, and the answers could not carry them."""
    with pytest.raises(DecodeError, match=f"{value.lstrip('-')} is not JSON"):
        decode_payload(f'{{"tokens": {{}}, "unknown": {value}}}'.encode(), RECEIVED)


def test_a_stored_record_nested_deep_does_not_break_the_events_page(service_factory):
    """What an older release stored (nested ~950 levels in extra) is shown as text."""
    service = service_factory("http://127.0.0.1:9", start=False)
    event = decode_payload(encode(record(request_id="old")), RECEIVED)
    service.store.write_batch([event._replace(extra='{"x":' + nested(950) + "}")], [], received=1)
    item = get(service, "/usage/events")["items"][0]
    assert isinstance(item["extra"], str) and item["extra"].startswith('{"x":[[[')


def test_the_oldest_event_without_a_latency(service_factory):
    """Records before v6.9.1 have no latency_ms: range=all reads the first one raw."""
    service = service_factory("http://127.0.0.1:9", start=False)
    first = record(request_id="first", timestamp=iso_ms(RECEIVED - 86_400_000 - 123_456))
    del first["latency_ms"]
    later = record(request_id="later", timestamp=iso_ms(RECEIVED - 3_600_000), latency_ms=800)
    events = [decode_payload(encode(r), RECEIVED) for r in (first, later)]
    assert events[0].latency_ms is None
    service.store.write_batch(events, [], received=2)
    for path in ("/usage/overview?range=all", "/usage/analysis?range=all", "/usage/credentials?range=all"):
        answer = get(service, path)
        totals = answer.get("summary") or answer.get("totals") or answer["items"][0]
        assert totals["requests"] == 2 and totals["avg_latency_ms"] == 800, path


def test_a_value_the_database_refuses_goes_aside_and_the_rest_is_committed(fake_cpa, service_factory, monkeypatch):
    """A write refused for one record's sake is found by halving; nothing is retried for ever."""
    import cpa_usage

    original = cpa_usage.Store._insert_new

    def refuse_poison(store, events):
        if any(event.request_id == "poison" for event in events):
            raise sqlite3.InterfaceError("Error binding parameter 7: type 'Poison' is not supported")
        return original(store, events)

    monkeypatch.setattr(cpa_usage.Store, "_insert_new", refuse_poison)
    cpa = fake_cpa()
    for i, payload in enumerate(records(40)):
        cpa.publish(payload if i != 17 else encode(record(request_id="poison")))
    service = service_factory(cpa.url, REDIS_QUEUE_TRANSPORT="lpop")
    wait_for(lambda: stored(service) == 39 and service.writer.pending == 0, what="every other record, nothing waiting")
    assert reasons(service) == ["could not be stored: InterfaceError: Error binding parameter 7: type 'Poison' is "
                                "not supported"]
    assert not service.writer.stalled
    totals = service.store.load_totals()
    assert (totals["received"], totals["inserted"], totals["dead_letters"]) == (40, 39, 1)


def test_a_writer_that_dies_is_started_again_and_says_so(fake_cpa, service_factory, monkeypatch):
    cpa = fake_cpa()
    service = service_factory(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    original, calls = service.writer._collect, []

    def dies_once():
        if not calls:
            calls.append(1)
            raise RuntimeError("a bug")
        return original()

    monkeypatch.setattr(service.writer, "_collect", dies_once)
    wait_for(lambda: service.writer.crashed, what="the crash")
    status = get(service, "/status")
    writer = next(w for w in status["workers"] if w["name"] == "ingest-writer")
    assert writer["alive"] is False and writer["last_crash"] == "RuntimeError: a bug"
    assert "ingest-writer is not running (RuntimeError: a bug); it starts again" in status["health"]["problems"]
    response = wsgi_call(service.app, "GET", "/healthz?ready=1")
    assert response.status == 503 and response.json()["detail"]["problems"]
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a record after the restart")
    assert service.writer.restarts == 1 and service.writer.alive


def test_readiness_while_cpa_is_down(fake_cpa, service_factory):
    cpa = fake_cpa()
    service = service_factory(cpa.url)
    wait_for(lambda: service.status.mode == "subscribe", what="subscribed")
    readiness = ("/healthz?ready=1", "/readyz", "/usage/readyz", "/usage/healthz?ready=true")
    for path in readiness:
        assert wsgi_call(service.app, "GET", path).json() == {"status": "ready"}, path
    assert wsgi_call(service.app, "GET", "/healthz").json() == {"status": "ok"}
    cpa.stop()
    wait_for(lambda: service.status.mode == "down", what="down")
    for path in readiness:
        answer = wsgi_call(service.app, "GET", path)
        assert answer.status == 503 and answer.json()["error"] == "not ready", path
        assert any("is not connected" in p for p in answer.json()["detail"]["problems"]), path
    assert wsgi_call(service.app, "GET", "/healthz").status == 200  # liveness stays
    assert wsgi_call(service.app, "GET", "/usage/healthz").status == 200
    paths = wsgi_call(service.app, "GET", "/usage/api/v1/openapi.json").json()["paths"]
    for path in ("/healthz", "/readyz"):
        documented = next(item["get"] for name, item in paths.items() if name.endswith(path))
        assert "not ready" in documented["responses"]["503"]["description"], path


def test_credential_error_events_that_are_not_go_aside():
    for payload, reason in ((b"{}", "no status_code and no auth_status"),
                            (b'{"status_code": 99999}', "status_code must be an HTTP status"),
                            (b'{"status_code": 500, "auth_status": []}', "auth_status must be an object"),
                            (b'{"status_code": 500, "timestamp": "yesterday"}', "timestamp must be an RFC 3339"),
                            ('{"status_code": 500, "body": "\\ud800"}'.encode(), "not valid Unicode")):
        with pytest.raises(DecodeError, match=reason):
            decode_error_event(payload, RECEIVED)


# -- arbitrary input through the whole path --------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=20)  # lone surrogates included
JSON_SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(TEXT, children, max_size=4), max_leaves=20)
FIELDS = ["timestamp", "latency_ms", "ttft_ms", "source", "auth_index", "tokens", "failed", "fail", "provider",
          "model", "alias", "endpoint", "auth_type", "api_key", "request_id", "response_headers", "token_breakdown",
          "generate", "stream", "service_tier", "executor_type", "accounting_version", "user_agent"]


@st.composite
def hostile_payloads(draw) -> bytes:
    """A current record with some fields replaced by arbitrary JSON, arbitrary JSON, or bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    payload = record(request_id=draw(TEXT), timestamp=iso_ms(RECEIVED - draw(st.integers(0, 40 * 86_400_000))))
    if draw(st.booleans()):
        del payload["latency_ms"]  # as records before v6.9.1
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        payload[field] = draw(JSON_VALUES)
    if draw(st.booleans()):
        payload["tokens"] = {name: draw(JSON_SCALARS) for name in ("input_tokens", "output_tokens", "total_tokens")}
    return json.dumps(payload).encode()


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(st.lists(hostile_payloads(), min_size=1, max_size=8), min_size=1, max_size=3))
def test_arbitrary_records_leave_every_answer_working(service_factory, batches):
    service = getattr(test_arbitrary_records_leave_every_answer_working, "service", None)
    if service is None:
        service = test_arbitrary_records_leave_every_answer_working.service = service_factory("http://127.0.0.1:9")
        service.writer.flush_interval = 0.005  # a batch is what was put: no wait for more
    for batch in batches:
        for payload in batch:
            assert service.writer.put(payload, "lpop", RECEIVED, "vm")
    wait_for(lambda: service.writer.pending == 0, what="everything committed or aside")
    assert service.writer.alive and not service.writer.stalled
    totals = service.store.load_totals()
    assert totals["received"] == totals["inserted"] + totals["duplicates"] + totals["dead_letters"]
    every_answer_works(service)


@pytest.fixture(autouse=True)
def _forget_the_property_service():
    yield
    test_arbitrary_records_leave_every_answer_working.__dict__.pop("service", None)


def test_dead_letters_show_keys_masked(service_factory):
    service = service_factory("http://127.0.0.1:9", start=False)
    payload = encode(record(api_key="sk-team-alpha-7f3c-very-secret", source="sk-upstream-0123456789abcdef",
                            latency_ms="slow"))
    service.store.write_batch([], [DeadLetter(RECEIVED, "lpop", "latency_ms must be an integer", payload)],
                              received=1)
    shown = get(service, "/dead-letters")["items"][0]["payload"]
    assert "sk-team-alpha-7f3c-very-secret" not in shown and "sk-te…cret" in shown
    assert "sk-upstream-0123456789abcdef" not in shown and '"latency_ms": "slow"' in shown
    service.store.write_batch([], [DeadLetter(RECEIVED, "lpop", "not JSON", b"garbage sk-abcdefghijklmnop")],
                              received=1)
    assert get(service, "/dead-letters")["items"][0]["payload"] == "garbage sk-ab…mnop"


# -- queries at the ends of the calendar --------------------------------------------------------

CALENDAR_ENDS = ["start=0&end=99999999999999", "start=0&end=1", "start=99999999999998&end=99999999999999",
                 "start=1960-01-01T00:00:00Z&end=1965-01-01T00:00:00Z",
                 "start=0001-01-01T00:00:00%2B23:59&end=9999-12-31T23:59:59.999-23:59"]
RANGED = ["/usage/overview", "/usage/events", "/usage/analysis", "/usage/credentials", "/usage/events/filters",
          "/usage/events/export", "/usage/analysis/export", "/auth-files", "/models/used", "/credential-errors"]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata"])
def test_ranges_at_the_ends_of_the_calendar_are_answered_in_bounded_time(service_factory, zone):
    """Ranges of millennia, before 1970 and at year 9999, in zones at +14, -12 and +5:30:
    every ranged answer is given (a local calendar computed where datetime ends was a
    500), and the overview's daily series stops at ten years (a range of millennia was
    a gigabyte of JSON)."""
    service = service_factory("http://127.0.0.1:9", start=False, TZ=zone)
    service.store.write_batch([decode_payload(payload, RECEIVED) for payload in records(3)], [], received=3)
    for query in CALENDAR_ENDS:
        for path in RANGED:
            response = wsgi_call(service.app, "GET", f"/usage/api/v1{path}?{query}")
            assert response.status == 200, (path, query, response.body[:300])
    overview = get(service, "/usage/overview?" + CALENDAR_ENDS[0])
    assert len(overview["daily"]) <= 3661 and overview["summary"]["requests"] == 3
    assert overview["range"]["end"].startswith("5138-")  # held to MAX_INSTANT_MS
    refused = wsgi_call(service.app, "GET", "/usage/api/v1/usage/overview?start=0&end=999999999999999")
    assert refused.status == 400 and refused.json()["detail"]["parameter"] == "end"


# -- a full disk ------------------------------------------------------------------------------


class FullDisk:
    """A directory whose disk can be filled and freed: a small tmpfs where this machine
    lets the tests mount one (root in a container usually may), else the same disk with
    ENOSPC injected into the spool's writes and SQLite held to its current size."""

    def __init__(self, path, monkeypatch):
        import subprocess

        self.path, self.monkeypatch, self.full = path, monkeypatch, False
        path.mkdir()
        self.tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(path)],
                                    capture_output=True).returncode == 0
        self.filler = path / "filler"
        self.service = None

    def fill(self, service):
        import errno

        self.service, self.full = service, True
        if self.tmpfs:
            with open(self.filler, "ab") as handle:  # again: what SQLite gave back since is taken too
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                        handle.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            return
        writer = service.writer
        original = writer._append_to_spool

        def no_space(*args, **kwargs):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(*args, **kwargs)

        self.monkeypatch.setattr(writer, "_append_to_spool", no_space)
        pages = service.store._writer.execute("PRAGMA page_count").fetchone()[0]
        service.store._writer.execute(f"PRAGMA max_page_count = {pages}")

    def free(self):
        self.full = False
        if self.tmpfs:
            self.filler.unlink()
        else:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the service may have stopped already
                self.service.store._writer.execute("PRAGMA max_page_count = 4294967294")

    def close(self):
        import subprocess

        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    disk = FullDisk(tmp_path / "disk", monkeypatch)
    yield disk
    disk.close()


def small_writer(service, memory, overflow):
    service.writer.MEMORY_RECORDS, service.writer.OVERFLOW_RECORDS = memory, overflow


def subscribed_to_a_full_disk(fake_cpa, service_factory, full_disk, memory, overflow, count):
    """A subscribed service whose disk is then filled, and ``count`` records published."""
    from test_drain import publish_paced

    cpa = fake_cpa()
    service = service_factory(cpa.url, SQLITE_PATH=str(full_disk.path / "app.db"))
    small_writer(service, memory, overflow)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    full_disk.fill(service)
    publish_paced(cpa, records(count), per_second=2000)
    return cpa, service


def test_a_full_disk_loses_nothing_taken_from_cpa(fake_cpa, service_factory, full_disk):
    cpa, service = subscribed_to_a_full_disk(fake_cpa, service_factory, full_disk, 300, 50_000, 2000)
    wait_for(lambda: service.writer.pending >= 2000, what="everything received, waiting")  # + support_refresh
    wait_for(lambda: service.writer.spool_error and service.writer.stalled, what="spool and database refusing")
    problems = get(service, "/status")["health"]["problems"]
    assert any("the spool cannot be written" in p for p in problems)
    assert any("the database refuses writes" in p for p in problems)
    assert service.writer.dropped == 0 and cpa.lost == []
    full_disk.free()
    wait_for(lambda: stored(service) == 2000, timeout=30, what="everything, once the disk has room")
    wait_for(lambda: service.writer.pending == 0 and not service.writer.stalled, what="nothing waiting")
    status = get(service, "/status")
    assert status["pending"] == 0 and status["dropped_records"] == 0 and status["health"]["problems"] == []


def test_a_full_disk_past_the_memory_limit_drops_and_says_so(fake_cpa, service_factory, full_disk):
    cpa, service = subscribed_to_a_full_disk(fake_cpa, service_factory, full_disk, 100, 400, 1000)
    wait_for(lambda: service.writer.dropped + service.writer.pending >= 1000, what="all received or dropped")

    def status_tells_the_count():
        # pending may hold CPA's support_refresh cue too, so a last record can still be on
        # its way: the count is read before and after /status, and must be the one it tells
        before = service.writer.dropped
        problems = get(service, "/status")["health"]["problems"]
        return before == service.writer.dropped and any(
            f"{before:,} records taken from CPA were dropped" in p for p in problems)

    wait_for(status_tells_the_count, what="/status telling how many were dropped")
    dropped = service.writer.dropped
    assert dropped > 0 and service.writer.in_memory == 400  # the rest of what waits is the batch in hand
    full_disk.free()
    wait_for(lambda: stored(service) == 1000 - service.writer.dropped and service.writer.pending == 0, timeout=30,
             what="what was kept")


def test_a_full_disk_pauses_polling(fake_cpa, service_factory, full_disk):
    cpa = fake_cpa(retention_seconds=3600)
    service = service_factory(cpa.url, SQLITE_PATH=str(full_disk.path / "app.db"), REDIS_QUEUE_TRANSPORT="http")
    small_writer(service, 100, 50_000)
    wait_for(lambda: service.status.mode == "http", what="HTTP mode")
    full_disk.fill(service)
    for payload in records(1500):
        cpa.publish(payload)
    wait_for(lambda: service.writer.spool_error is not None, what="the spool refused")
    pending = service.writer.pending
    wait_for(lambda: cpa.queue_len() > 0, what="records left in CPA's queue")
    assert service.writer.pending <= pending + 2 * 100 and service.writer.dropped == 0
    full_disk.free()
    wait_for(lambda: stored(service) == 1500 and service.writer.pending == 0, timeout=30,
             what="everything, once the disk has room")
    assert cpa.queue_len() == 0


def test_a_stop_with_a_full_disk_says_what_it_lost(fake_cpa, service_factory, full_disk, caplog):
    cpa = fake_cpa()
    service = service_factory(cpa.url, SQLITE_PATH=str(full_disk.path / "app.db"))
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    full_disk.fill(service)
    for payload in records(50):
        cpa.publish(payload)
    wait_for(lambda: service.writer.pending >= 50 and service.writer.stalled, what="waiting")
    full_disk.fill(service)
    assert service.stop() is False
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not be saved to" in m and "they are lost" in m for m in messages)
    assert not any("were saved to" in m for m in messages)
    full_disk.free()


def test_an_import_of_hostile_lines_rejects_them_and_adds_the_rest(service_factory, tmp_path):
    import io

    from cpa_usage import Importer

    service = service_factory("http://127.0.0.1:9", start=False)
    good = encode(record(request_id="good"))
    row = dict(decode_payload(good, RECEIVED)._asdict(), request_id="row", event_key="e" * 32, latency_ms=2**70)
    lines = [good, ('{"tokens":{},"x":' + nested(1200) + "}").encode(), json.dumps(record(model="\ud800")).encode(),
             b'{"tokens": {}, "latency_ms": NaN}', json.dumps(row).encode()]
    report = Importer(service.store).run(io.BytesIO(b"\n".join(lines) + b"\n"), "hostile.jsonl")
    assert report.error is None and (report.read, report.added, report.rejected) == (5, 1, 4)
    assert sorted(report.reasons) == ["latency_ms is out of range", "model is not valid Unicode (it holds a lone "
                                      "surrogate)", "not JSON that can be read: nested too deep",
                                      "not JSON: NaN is not JSON"]
