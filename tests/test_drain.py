"""The drainer against a faithful fake CPA (every era) and against the real Redis:
what goes on the wire, subscribe + backlog, LPOP fallback, reconnects, the key gate,
malformed records, and a database that refuses writes."""

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest

from backends import RealRedis, wait_for
from conftest import payload_lines, record
from cpa_usage import AuthRejected, KeyGate




def records(count: int, start: int = 0) -> list[bytes]:
    """Distinct current-era records (distinct request ids, so distinct event keys)."""
    out = []
    for i in range(start, start + count):
        payload = record(request_id=f"{i:08x}", latency_ms=10 + i % 7)
        out.append(json.dumps(payload).encode())
    return out


def publish_paced(cpa, payloads: list[bytes], per_second: int) -> None:
    """Publish at a steady rate, as a busy CPA would. (The fake shares this process's
    GIL with the drainer, so an unpaced loop measures the GIL, not the drainer.)"""
    started = time.monotonic()
    for i, payload in enumerate(payloads):
        cpa.publish(payload)
        delay = started + (i + 1) / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def stored(service) -> int:
    return service.store.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]


@pytest.fixture
def real_redis():
    backend = RealRedis()
    yield backend
    backend.close()


@pytest.fixture
def make_service(service_factory):
    """Services against ``backend`` (the fake CPA or the real Redis) with its key by default,
    started unless asked not to; all are stopped after the test, so no thread outlives it."""
    def make(backend, key=None, transport="auto", start=True, **drainer_options):
        return service_factory(backend.url, key=key or backend.key, start=start, REDIS_QUEUE_TRANSPORT=transport,
                               **drainer_options)

    return make


def commands_by_connection(cpa) -> dict[int, list[list[bytes]]]:
    by_conn: dict[int, list] = {}
    for command in cpa.commands:
        by_conn.setdefault(command.conn_id, []).append([bytes(a) for a in command.args])
    return by_conn


# -- what goes on the wire ------------------------------------------------------


def test_subscribe_era_sends_only_auth_subscribe_and_lpop(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    for payload in records(5):
        cpa.publish(payload)  # queued before anyone subscribes: the backlog
    service = make_service(cpa)
    wait_for(lambda: stored(service) == 5, what="the backlog")
    for payload in records(7, start=5):
        cpa.publish(payload)  # pushed to the subscriber
    wait_for(lambda: stored(service) == 12, what="pushed records")
    assert service.status.mode == "subscribe"
    wait_for(lambda: service.status.errors_subscribed, what="the errors channel")
    sessions = list(commands_by_connection(cpa).values())
    assert len(sessions) == 3  # the key-free RESP probe is no command: CPA answers it "protocol error"
    poll, subscription, errors = sessions
    assert poll[0] == [b"AUTH", cpa.key.encode()] and subscription[0] == [b"AUTH", cpa.key.encode()]
    assert subscription[1:] == [[b"SUBSCRIBE", b"usage"]]
    assert errors == [[b"AUTH", cpa.key.encode()], [b"SUBSCRIBE", b"errors"]]
    assert {tuple(c) for c in poll[1:]} == {(b"LPOP", b"usage", b"100")}
    assert cpa.failed_attempts_total() == 0 and cpa.lost == []


@pytest.mark.parametrize("version, transport", [("6.10.6", "auto"), ("7.0.3", "subscribe")])
def test_lpop_era_polls_one_kept_open_connection(fake_cpa, make_service, version, transport):
    """No SUBSCRIBE: LPOP, under auto where CPA has no HTTP usage queue either (6.10.6)."""
    cpa = fake_cpa(version=version)
    service = make_service(cpa, transport=transport)
    wait_for(lambda: service.status.mode == "lpop", what="LPOP mode")
    for payload in records(250):
        cpa.publish(payload)
    wait_for(lambda: stored(service) == 250, what="polled records")
    sessions = list(commands_by_connection(cpa).values())
    assert len(sessions) == 2  # the poll connection, and one SUBSCRIBE probe answered "unknown command"
    poll, probe = sessions
    assert probe == [[b"AUTH", cpa.key.encode()], [b"SUBSCRIBE", b"usage"]]
    assert poll[0] == [b"AUTH", cpa.key.encode()]
    assert len(poll) > 5 and {tuple(c) for c in poll[1:]} == {(b"LPOP", b"usage", b"100")}
    assert all(c[0] in (b"AUTH", b"LPOP", b"SUBSCRIBE") for s in sessions for c in s)


def test_redis_py_defaults_would_be_banned_but_ours_are_not(fake_cpa):
    """The reason for protocol=2: redis-py 8's default handshake is HELLO, a failed login to CPA."""
    import redis

    cpa = fake_cpa()
    naive = redis.Redis(host=cpa.host, port=cpa.port, password=cpa.key, socket_timeout=2)
    with pytest.raises(redis.RedisError):
        naive.lpop("usage", 10)
    assert cpa.failed_attempts_total() >= 1
    cpa.reset_bans()


# -- the same drain against the real Redis ---------------------------------------


def test_real_redis_backlog_then_subscription(real_redis, make_service):
    for payload in records(150):
        real_redis.publish(payload)  # no subscriber yet: RPUSH, drained by LPOP with a count
    service = make_service(real_redis)
    wait_for(lambda: stored(service) == 150, what="LPOP backlog from Redis")
    wait_for(lambda: real_redis.subscriber_count() == 1, what="the subscription")
    for payload in records(40, start=150):
        real_redis.publish(payload)  # PUBLISH to the subscriber
    wait_for(lambda: stored(service) == 190, what="published records")
    assert service.status.mode == "subscribe" and real_redis.queue_len() == 0


def test_real_redis_survives_a_quiet_subscription_ping(real_redis, make_service):
    service = make_service(real_redis, ping_after=0.2, pong_timeout=2.0)
    wait_for(lambda: real_redis.subscriber_count() == 1, what="the subscription")
    time.sleep(0.6)  # several PINGs answered by Redis inside the subscription
    real_redis.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a record after pings")
    assert service.status.reconnects == 0


# -- every payload era through the whole pipe ------------------------------------


@pytest.mark.parametrize("era, version", [("v6.10", "6.10.6"), ("v7.0", "7.0.3"), ("v7.1", "7.1.44"),
                                          ("v7.2.78", "7.2.78"), ("v7.2", "7.2.140")])
def test_every_era_is_stored_whole(fake_cpa, make_service, era, version):
    cpa = fake_cpa(version=version)
    service = make_service(cpa)
    lines = payload_lines(era)
    for line in lines:
        cpa.publish(line)
    wait_for(lambda: stored(service) == len(lines), what=f"{era} records")
    totals = service.store.load_totals()
    assert totals["inserted"] == len(lines) and totals["dead_letters"] == 0


def test_control_messages_are_counted_not_stored(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.publish_refresh()
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="the record")
    wait_for(lambda: service.store.load_totals()["control_messages"] == 2, what="support_refresh + refresh")
    assert service.status.last_refresh_hint_at is not None


def test_malformed_records_are_kept_aside_and_the_drain_goes_on(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    good = records(3)
    for payload in (good[0], b"not json", good[1], b'{"tokens": "many"}', b"[1,2]", good[2]):
        cpa.publish(payload)
    wait_for(lambda: stored(service) == 3, what="the good records")
    wait_for(lambda: service.store.load_totals()["dead_letters"] == 3, what="the dead letters")
    reasons = sorted(d.reason for d in service.store.list_dead_letters())
    assert reasons == ["not JSON: Expecting value: line 1 column 1 (char 0)", "not a JSON object but list",
                       "tokens must be an object, got str"]
    assert {bytes(d.payload) for d in service.store.list_dead_letters()} == {
        b"not json", b'{"tokens": "many"}', b"[1,2]"}


# -- failures and recovery ----------------------------------------------------------


def test_cpa_down_then_back(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="the first record")
    cpa.stop()
    wait_for(lambda: service.status.mode == "down", what="mode down")
    assert service.status.last_error
    cpa.start()
    for payload in records(3, start=1):
        cpa.publish(payload)  # queued: nobody is subscribed yet after the restart
    wait_for(lambda: stored(service) == 4, what="records after CPA came back")
    wait_for(lambda: service.status.mode == "subscribe", what="subscribed again")
    assert service.status.reconnects >= 1


def test_cpa_not_running_at_start(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    cpa.stop()
    service = make_service(cpa)
    wait_for(lambda: service.status.last_error is not None, what="a connection error")
    assert service.status.mode == "down" and service.gate.state == "unknown"
    cpa.start()
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="the record once CPA is up")
    # CPA was down, not without RESP: once it is up, the drain subscribes (not the HTTP queue)
    wait_for(lambda: service.status.mode == "subscribe", what="SUBSCRIBE once CPA is up")


def test_half_open_subscription_is_detected_by_ping(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa, ping_after=0.2, pong_timeout=0.3)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.freeze_subscribers(True)  # the link stays open but nothing comes back, not even pong
    wait_for(lambda: service.status.reconnects >= 1, what="a reconnect after the missing pong")
    assert any(c.args[0].upper() == b"PING" for c in cpa.commands)
    cpa.freeze_subscribers(False)
    wait_for(lambda: service.status.mode == "subscribe", what="subscribed again")
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a record on the new subscription")


def test_lpop_fallback_is_not_permanent(fake_cpa, make_service):
    cpa = fake_cpa(version="7.0.3")
    service = make_service(cpa, transport="subscribe", resubscribe_every=0.3)
    wait_for(lambda: service.status.mode == "lpop", what="LPOP mode")
    cpa.stop()
    upgraded = fake_cpa(version="7.2.140", port=cpa.port)  # CPA upgraded in place
    wait_for(lambda: service.status.mode == "subscribe", what="SUBSCRIBE after the upgrade")
    upgraded.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a pushed record")


def test_lpop_mode_retries_subscribe_periodically_on_one_connection(fake_cpa, make_service):
    cpa = fake_cpa(version="7.0.3")
    service = make_service(cpa, transport="subscribe", resubscribe_every=0.2)
    wait_for(lambda: sum(1 for c in cpa.commands if c.args[0].upper() == b"SUBSCRIBE") >= 3,
             what="three SUBSCRIBE probes")
    poll_connections = {c.conn_id for c in cpa.commands if c.args[0].upper() == b"LPOP"}
    assert len(poll_connections) == 1 and service.status.mode == "lpop"


def test_slow_database_does_not_get_the_subscriber_dropped(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    blocker = sqlite3.connect(service.config.sqlite_path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # the database refuses every write for a while
    publish_paced(cpa, records(1500), per_second=3000)
    # 1500 records and the {"support_refresh":true} that opened the subscription
    wait_for(lambda: service.writer.pending == 1501, what="everything received while the database is locked")
    assert cpa.dropped_subscribers == 0 and cpa.lost == []
    wait_for(lambda: service.writer.stalled, what="the writer to report the lock")
    assert "locked" in service.status.last_error
    blocker.rollback()
    blocker.close()
    wait_for(lambda: stored(service) == 1500, timeout=30, what="everything written after the lock")
    assert not service.writer.stalled


@pytest.mark.parametrize("transport", ["lpop", "http"])
def test_polling_backpressure_bounds_what_is_in_memory(fake_cpa, make_service, transport):
    cpa = fake_cpa(version="7.0.3")
    for payload in records(1000):
        cpa.publish(payload)
    service = make_service(cpa, transport=transport, start=False)
    slow = threading.Event()
    original = service.store.write_batch

    def slow_write(*args, **kwargs):
        slow.wait(0.05)
        return original(*args, **kwargs)

    service.store.write_batch = slow_write
    peaks = []
    service.start()
    while stored(service) < 1000:
        peaks.append(service.writer.pending)
        time.sleep(0.005)
    assert max(peaks) <= 2 * 100  # two batches at most: the loss window of a crash


# -- the management key --------------------------------------------------------------


def test_wrong_key_is_tried_once_and_reported(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    service = make_service(cpa, key="wrong-key")
    wait_for(lambda: service.gate.state == "rejected", what="the rejection")
    time.sleep(0.5)  # five error backoffs: a careless drainer would have tried five more times
    assert cpa.failed_attempts_total() == 1 and not cpa.is_banned()
    status = service.status_report()
    assert status["auth"] == "rejected" and "invalid management key" in status["auth_error"]
    assert status["auth_next_attempt_at"] is not None and "wrong-key" not in json.dumps(status)


def test_rejection_is_remembered_across_restarts_but_a_new_key_is_tried(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    first = make_service(cpa, key="wrong-key")
    wait_for(lambda: first.gate.state == "rejected", what="the rejection")
    first.stop()
    again = make_service(cpa, key="wrong-key")
    time.sleep(0.3)
    assert cpa.failed_attempts_total() == 1 and again.gate.state == "rejected"
    again.stop()
    fixed = make_service(cpa)
    wait_for(lambda: fixed.gate.state == "ok", what="the right key accepted")
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(fixed) == 1, what="a record with the right key")


def test_banned_address_waits_for_the_ban_to_end(fake_cpa, make_service):
    cpa = fake_cpa(version="7.2.140")
    for _ in range(5):  # somebody else on this host spent the allowance
        request = urllib.request.Request(cpa.url + "/v0/management/config", headers={"X-Management-Key": "nope"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=5)
    assert cpa.is_banned()
    service = make_service(cpa)
    wait_for(lambda: service.gate.state == "rejected", what="the ban answer")
    assert "banned" in service.gate.reason.lower()
    assert service.gate.next_attempt_at - service.gate.rejected_at > 29 * 60


def test_gate_schedule_never_lets_cpa_count_five_failures(store):
    """Simulate days of a wrong key: CPA forgets an address's failures after 2 idle
    hours (checked hourly), bans at 5; the gate must never get there, and must never
    spend more than 4 failures in any 30 minutes."""

    now = [1_800_000_000.0]
    gate = KeyGate("wrong", store, clock=lambda: now[0])
    stop = threading.Event()
    attempts, cpa_count, last_failure = [], 0, None
    def attempt():
        raise AuthRejected("invalid management key")

    for _ in range(40):
        wait = max(0.0, (gate.next_attempt_at or now[0]) - now[0])
        now[0] += wait
        if last_failure is not None and now[0] - last_failure >= 3 * 3600:
            cpa_count = 0  # idle for 2 h: purged at the next hourly purge, 3 h at the latest
        with pytest.raises(AuthRejected):
            gate.use(stop, attempt)
        attempts.append(now[0])
        cpa_count += 1
        last_failure = now[0]
        assert cpa_count < 5
    assert max(sum(1 for t in attempts if start <= t < start + 1800) for start in attempts) <= 4


def test_a_busy_subscription_does_not_grow_the_read_buffer():
    """redis-py empties its read buffer only when all of it has been read; a stream
    that never pauses would grow it by every byte received. QueueConnection compacts
    it. A plain socket server streams 8 MB of subscription messages in one go (faster
    than any Python reader), after answering AUTH and SUBSCRIBE as CPA does."""
    import socket as sockets

    from cpa_usage import QueueConnection

    payload = json.dumps(record(fail={"status_code": 200, "body": "x" * 1500})).encode()
    message = b"*3\r\n$7\r\nmessage\r\n$5\r\nusage\r\n$%d\r\n%s\r\n" % (len(payload), payload)
    count = (8 << 20) // len(message)

    def serve(listener):
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"+OK\r\n")
            conn.recv(4096)
            conn.sendall(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nusage\r\n:1\r\n" + message * count)
            conn.recv(1)  # until the client closes

    def stream_and_measure(compact: bool) -> int:
        listener = sockets.create_server(("127.0.0.1", 0))
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        conn = QueueConnection("127.0.0.1", listener.getsockname()[1], False, "key", 5.0)
        conn.open()
        if not compact:
            conn._compact_read_buffer = lambda: None
        assert conn.subscribe("usage", 5.0)
        largest = 0
        for _ in range(count):
            assert conn.read_message(5.0) == ("message", payload)
            # redis-py 8.1.0 (pinned) has no public way to see its read buffer's size: the
            # SocketBuffer is reached only through Connection._parser, and its one public
            # size, unread_bytes(), leaves out the part already read, which is what grows.
            largest = max(largest, conn._conn._parser._buffer._buffer.getbuffer().nbytes)
        conn.close()
        listener.close()
        return largest

    assert stream_and_measure(compact=True) < 2 << 20
    assert stream_and_measure(compact=False) > 4 << 20  # what the compaction prevents
