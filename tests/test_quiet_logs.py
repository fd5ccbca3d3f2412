"""Quiet when things go wrong: a condition that repeats (CPA unreachable, the key
rejected, a metadata list failing, a queue command refused, the database refusing
writes) is logged when it starts, as a short summary at most every 10 minutes while it
lasts, and when it ends; one line each, at most 300 characters. RepeatedCondition on a
fake clock, then services against a stopped fake CPA, one that refuses the queue name,
and a database that refuses a few writes."""

import json
import logging
import sqlite3
import threading

import pytest

from backends import wait_for
from conftest import record
from cpa_usage import AuthRejected, KeyGate, RepeatedCondition, _failures_text


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lines(caplog):
    """The messages cpa_usage logs from here on, as (level name, message)."""
    caplog.set_level(logging.INFO, logger="cpa_usage")

    def taken(containing: str = "") -> list[tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in caplog.records
                if r.name == "cpa_usage" and containing in r.getMessage()]

    return taken


def condition(clock: Clock, **options) -> RepeatedCondition:
    return RepeatedCondition("CPA east unreachable", "CPA east reachable again", clock=clock, **options)


# -- the class, on a fake clock ---------------------------------------------------------


def test_a_condition_is_told_once_then_summed_up_every_ten_minutes(lines):
    clock = Clock()
    down = condition(clock)
    down.failed("connection refused", "connection to CPA east lost or refused (", "); retrying in 10s")
    assert lines() == [("WARNING", "connection to CPA east lost or refused (connection refused); retrying in 10s")]
    for _ in range(59):  # ten minutes less ten seconds of retries every ten seconds
        clock.now += 10
        down.failed("connection refused")
    assert len(lines()) == 1
    clock.now += 10
    down.failed("timed out")
    assert lines()[1:] == [("WARNING", "CPA east unreachable for 10m, 61 attempts: timed out")]
    clock.now += 10
    down.failed("timed out")
    assert len(lines()) == 2  # the next summary is ten minutes after this one, not after the start
    clock.now += 600
    down.failed("timed out")
    assert lines()[2:] == [("WARNING", "CPA east unreachable for 20m10s, 63 attempts: timed out")]


def test_the_end_is_told_with_how_long_and_how_many_attempts(lines):
    clock = Clock()
    down = condition(clock)
    assert not down.recovered() and lines() == []  # nothing to end
    down.failed("connection refused")
    clock.now += 1380
    down.failed("connection refused")
    assert down.recovered()
    assert lines()[-1] == ("INFO", "CPA east reachable again after 23m, 2 attempts")
    assert not down.recovered() and len(lines()) == 3


def test_a_new_start_after_the_end_is_told_in_full_again(lines):
    clock = Clock()
    down = condition(clock)
    down.failed("connection refused")
    clock.now += 5
    down.recovered()
    clock.now += 5
    down.failed("no route to host")
    clock.now += 5
    down.failed("no route to host")
    assert lines() == [("WARNING", "CPA east unreachable: connection refused"),
                       ("INFO", "CPA east reachable again after 5s, 1 attempt"),
                       ("WARNING", "CPA east unreachable: no route to host")]
    clock.now += 600
    down.failed("no route to host")  # the attempts and the time count from the new start
    assert lines()[-1] == ("WARNING", "CPA east unreachable for 10m5s, 3 attempts: no route to host")


def test_a_connection_the_first_retry_restores_ends_without_a_line_of_its_own(lines):
    clock = Clock()
    link = condition(clock, end_after=2)
    link.failed("subscription ended: closed by CPA")
    clock.now += 1
    assert not link.recovered()
    link.failed("subscription ended: closed by CPA")  # a new start, told again
    clock.now += 1
    link.failed("connection refused")
    clock.now += 1
    assert link.recovered()
    assert lines() == [("WARNING", "CPA east unreachable: subscription ended: closed by CPA"),
                       ("WARNING", "CPA east unreachable: subscription ended: closed by CPA"),
                       ("INFO", "CPA east reachable again after 2s, 2 attempts")]


def test_every_line_is_at_most_300_characters_the_error_cut_with_an_ellipsis(lines):
    clock = Clock()
    down = condition(clock, level=logging.ERROR)
    body = "<html>" + "x" * 2000 + "</html>"
    down.failed(body, "CPA said (", "); retrying in 10s")
    clock.now += 600
    down.failed(body)
    down.recovered()
    (start_level, start), (_, summary), (_, end) = lines()
    assert start_level == "ERROR" and len(start) == 300 and start.endswith("x…); retrying in 10s")
    assert start.startswith("CPA said (<html>xxx")
    assert len(summary) == 300 and summary.endswith("x…") and summary.startswith("CPA east unreachable for 10m")
    assert end == "CPA east reachable again after 10m, 2 attempts"


def test_control_characters_count_as_the_log_shows_them(lines):
    down = condition(Clock())
    down.failed("\n" * 400)
    (_, message), = lines()
    assert len(message) == 300 and "\n" not in message and message.startswith("CPA east unreachable: \\x0a\\x0a")


def test_metadata_failures_alike_are_told_together():
    results = {"auth-files": "refused", "api-keys": "refused", "gemini-api-key": "refused", "xai-api-key": "absent",
               "claude-api-key": "ok", "models": "HTTP 500 from /v1/models", "queue-retention": "refused"}
    assert _failures_text(results) == ("auth-files, api-keys and 2 more: refused; "
                                       "models: HTTP 500 from /v1/models")
    assert _failures_text({"a": "x", "b": "x"}) == "a and b: x"


# -- the key gate -----------------------------------------------------------------------


def test_a_key_rejected_again_and_again_is_one_error_then_summaries(store, lines):
    clock = Clock(1_700_000_000.0)
    gate = KeyGate("wrong-key", store, clock=clock)

    def rejected():
        raise AuthRejected("invalid management key")

    stop = threading.Event()
    for _ in range(3):  # at 0, 10 and 40 minutes, as the gate allows
        with pytest.raises(AuthRejected):
            gate.use(stop, rejected)
        clock.now = gate.next_attempt_at
    first, *summaries = lines()
    assert first[0] == "ERROR" and first[1].startswith("CPA rejected the management key: invalid management key. "
                                                       "Everything that uses the key pauses; next single attempt at ")
    assert "Fix CPA_MANAGEMENT_KEY" in first[1]
    assert summaries == [("ERROR", "CPA rejects the management key for 10m, 2 attempts: invalid management key"),
                         ("ERROR", "CPA rejects the management key for 40m, 3 attempts: invalid management key")]
    gate.use(stop, lambda: "ok")
    assert lines()[-1] == ("INFO", "CPA accepts the management key again after 3h45m, 3 attempts")
    assert gate.state == "ok"


def test_a_key_rejected_by_an_earlier_run_is_told_accepted_too(store, lines):
    clock = Clock(1_700_000_000.0)
    first = KeyGate("a-key", store, clock=clock, cpa="east")

    def rejected():
        raise AuthRejected("invalid management key")

    with pytest.raises(AuthRejected):
        first.use(threading.Event(), rejected)
    assert lines()[-1][1].startswith("CPA rejected the management key: invalid management key.")
    clock.now = first.next_attempt_at
    again = KeyGate("a-key", store, clock=clock, cpa="east")  # a restart: the rejection read back
    again.use(threading.Event(), lambda: "ok")
    assert lines()[-1] == ("INFO", "CPA accepted the management key again")


# -- services ---------------------------------------------------------------------------


def test_a_stopped_cpa_is_one_warning_not_one_per_attempt_then_the_end(fake_cpa, service_factory, lines):
    cpa = fake_cpa(version="7.2.140")
    cpa.stop()
    service = service_factory(cpa.url, key=cpa.key, METADATA_SYNC_INTERVAL="100ms")
    wait_for(lambda: service.status.reconnects >= 20, what="twenty attempts")
    wait_for(lambda: service.metadata._incomplete.attempts >= 5, what="five metadata syncs")
    unreachable = [line for line in lines() if line[0] == "WARNING" and f"CPA {service.config.cpas[0].name} " in
                   line[1] and "lost or refused" in line[1]]
    assert len(unreachable) == 1 and "Connection refused" in unreachable[0][1] and len(unreachable[0][1]) <= 300
    incomplete = [line for line in lines("metadata sync") if line[0] == "WARNING"]
    assert len(incomplete) == 1 and len(incomplete[0][1]) <= 300
    assert "auth-files, api-keys and " in incomplete[0][1]
    assert lines("through its HTTP usage queue") == []  # not told while nothing answers there
    assert service.status.last_error and service.status.mode == "down"  # /status tells it as before
    attempts = service.status.reconnects
    cpa.start()
    wait_for(lambda: lines("reachable again"), what="the end of the outage told")
    wait_for(lambda: lines("complete again"), what="the metadata sync complete again")
    (level, message), = lines("reachable again")
    assert level == "INFO" and message.startswith(f"CPA {service.config.cpas[0].name} reachable again after ")
    told = int(message.rsplit(", ", 1)[1].split()[0])
    assert told >= attempts
    assert len([line for line in lines() if line[0] == "WARNING"]) == 2


def test_a_queue_command_refused_again_and_again_is_one_error(fake_cpa, service_factory, lines):
    cpa = fake_cpa(version="7.2.140")
    service = service_factory(cpa.url, key=cpa.key, REDIS_QUEUE_KEY="not-usage", REDIS_QUEUE_TRANSPORT="lpop")
    wait_for(lambda: service.drainer._refused.attempts >= 10, what="ten refused commands")
    refused = lines("queue command")  # the first line says "refused a queue command", a summary "queue commands"
    assert len(refused) == 1 and refused[0][0] == "ERROR" and "REDIS_QUEUE_KEY=not-usage" in refused[0][1]
    assert "not-usage" in service.status.last_error


def test_a_database_that_refuses_writes_again_and_again_is_one_warning(fake_cpa, service_factory, lines):
    cpa = fake_cpa(version="7.2.140")
    service = service_factory(cpa.url, key=cpa.key)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    original, refusals = service.store.write_isolating, []

    def refusing(*args, **kwargs):
        if len(refusals) < 5:  # paused 0.1 s, 0.2, 0.4, 0.8 and 1.6 s after them
            refusals.append(1)
            raise sqlite3.OperationalError("database is locked")
        return original(*args, **kwargs)

    service.store.write_isolating = refusing
    cpa.publish(json.dumps(record(request_id="0badcafe")).encode())
    wait_for(lambda: lines("accepts writes again"), what="the database accepting writes again")
    assert len(refusals) == 5
    (level, message), = lines("refuses writes")  # one line, not one per refusal
    assert level == "WARNING" and message.startswith("database refuses writes (database is locked); ")
    assert message.endswith(" records wait")
    (level, message), = lines("accepts writes again")
    assert level == "INFO" and message.startswith("database accepts writes again after ")
    assert message.endswith(", 5 attempts")
    assert service.store.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0] == 1
