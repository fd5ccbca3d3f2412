"""The fake CPA itself, spoken to over raw sockets and urllib only: every reply form the
drain tests rely on, as research-notes §1-§2 and §5 describe CPA (and CPA's Go source
confirms). If the fake drifted from CPA, the drain tests would prove nothing."""

import json
import pathlib
import socket
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection

import pytest
from backends import wait_for
from fake_cpa import FakeCPA, go_duration

TIMEOUT = 5.0
RECORD = b'{"timestamp":"2026-08-22T09:12:04.183422911Z","model":"gpt-5.4","tokens":{"total_tokens":17}}'


def command(*args) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def message(channel: bytes, payload: bytes) -> list:
    return [b"message", channel, payload]


class Client:
    """A raw RESP client: what is sent and received is exactly what is on the wire."""

    def __init__(self, cpa: FakeCPA, rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connect, so the advertised window is small too
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((cpa.host, cpa.port))
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, *args) -> None:
        self.sock.sendall(command(*args))

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: b"+OK" / b"-ERR ..." as the line, int, bytes or None, or a list."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return line
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if rest == b"-1" else self.read(int(rest) + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise AssertionError(f"not a RESP reply: {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def expect_raw(self, expected: bytes) -> None:
        assert self.read(len(expected)) == expected

    def closed(self, timeout: float = TIMEOUT) -> bool:
        """True once the server closed the connection (EOF or reset) within ``timeout``.
        Whatever arrives first is kept for reply()."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                return False
            except OSError:
                return True
            finally:
                self.sock.settimeout(TIMEOUT)
            if not chunk:
                return True
            self.buffer += chunk


def authed(cpa: FakeCPA) -> Client:
    client = Client(cpa)
    assert client.call("AUTH", cpa.key) == b"+OK"
    return client


def subscribed(cpa: FakeCPA, channel: str = "usage") -> Client:
    """An authenticated connection subscribed to ``channel``, its first message (if any) read."""
    client = authed(cpa)
    assert client.call("SUBSCRIBE", channel) == [b"subscribe", channel.encode(), 1]
    if channel == "usage" and cpa.at_least(7, 1, 39):
        assert client.reply() == message(b"usage", b'{"support_refresh":true}')
    return client


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


def http(cpa: FakeCPA, path: str, method: str = "GET", body: bytes | None = None, **headers):
    """(status, headers, body bytes) of one request; header names with '_' use '-'."""
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    request = urllib.request.Request(cpa.url + path, data=body, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def mgmt(cpa: FakeCPA, path: str, method: str = "GET", body: bytes | None = None, **headers):
    headers.setdefault("Authorization", f"Bearer {cpa.key}")
    return http(cpa, "/v0/management" + path, method, body, **headers)


@pytest.fixture
def cpa():
    with FakeCPA() as fake:
        yield fake


class ManualClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- AUTH, NOAUTH and the ban (notes §0.2-3, §1.3, §2) ------------------------------------------


def test_auth_forms_and_their_replies(cpa):
    client = Client(cpa)
    client.send("AUTH", cpa.key)
    client.expect_raw(b"+OK\r\n")
    assert Client(cpa).call("AUTH", "default", cpa.key) == b"+OK"  # AUTH <user> <key>: the user is ignored
    assert Client(cpa).call("AUTH", "wrong") == b"-ERR invalid management key"
    assert Client(cpa).call("AUTH", "default", "wrong") == b"-ERR invalid management key"
    assert Client(cpa).call("AUTH", "") == b"-ERR missing management key"
    assert Client(cpa).call("AUTH") == b"-ERR wrong number of arguments for 'auth' command"
    assert cpa.auth_failures() == 4 and cpa.failed_attempts_total() == 4 and not cpa.is_banned()
    assert Client(cpa).call("auth", cpa.key) == b"+OK"  # names are case-insensitive
    assert cpa.auth_failures() == 0 and cpa.failed_attempts_total() == 4  # a success resets the count
    assert Client(cpa).call("AUTH", "a", "b", "c") == b"-ERR wrong number of arguments for 'auth' command"
    assert cpa.auth_failures() == 1  # counted too


def test_commands_before_auth_get_noauth_and_count_as_failures(cpa):
    client = Client(cpa)
    # what redis-py 8 sends first: refused, and counted although the key inside is right
    assert client.call("HELLO", "3", "AUTH", "default", cpa.key) == b"-NOAUTH Authentication required."
    assert client.call("LPOP", "usage") == b"-NOAUTH Authentication required."
    assert client.call("PING") == b"-NOAUTH Authentication required."
    assert cpa.auth_failures() == 3
    assert client.call("AUTH", cpa.key) == b"+OK"  # the connection stayed open
    assert client.call("LPOP", "usage") is None


def test_five_failures_ban_the_address_for_thirty_minutes():
    clock = ManualClock()
    with FakeCPA(ban_clock=clock) as cpa:
        client = Client(cpa)
        for _ in range(5):
            assert client.call("LPOP", "usage") == b"-NOAUTH Authentication required."
        assert cpa.is_banned() and cpa.auth_failures() == 0  # the count resets when the ban starts
        banned = b"-ERR IP banned due to too many failed attempts. Try again in 30m0s"
        assert client.call("LPOP", "usage") == banned
        assert Client(cpa).call("AUTH", cpa.key) == banned  # even the right key
        assert Client(cpa).call("AUTH") == banned
        assert cpa.failed_attempts_total() == 5  # nothing is counted while banned
        clock.now += 19
        assert Client(cpa).call("AUTH", cpa.key) == b"-ERR IP banned due to too many failed attempts. Try again in 29m41s"
        clock.now += 0.4  # 1780.6 s left: rounded to the nearest second, as Go's Duration.Round does
        assert Client(cpa).call("AUTH", cpa.key).endswith(b"Try again in 29m41s")
        clock.now += 0.2  # 1780.4 s left
        assert Client(cpa).call("AUTH", cpa.key).endswith(b"Try again in 29m40s")
        clock.now = 1000 + 30 * 60
        assert not cpa.is_banned()
        assert Client(cpa).call("AUTH", cpa.key) == b"+OK"


def test_set_ban_clock_offset_ends_a_ban(cpa):
    for _ in range(5):
        Client(cpa).call("AUTH", "wrong")
    assert cpa.is_banned()
    cpa.set_ban_clock_offset(31 * 60)
    assert not cpa.is_banned() and Client(cpa).call("AUTH", cpa.key) == b"+OK"


def test_a_success_resets_the_count_so_failures_must_be_consecutive(cpa):
    for _ in range(4):
        Client(cpa).call("AUTH", "wrong")
    assert cpa.auth_failures() == 4
    assert Client(cpa).call("AUTH", cpa.key) == b"+OK"
    for _ in range(4):
        Client(cpa).call("AUTH", "wrong")
    assert not cpa.is_banned() and cpa.failed_attempts_total() == 8
    Client(cpa).call("AUTH", "wrong")
    assert cpa.is_banned()
    cpa.reset_bans()
    assert not cpa.is_banned() and cpa.auth_failures() == 0 and cpa.failed_attempts_total() == 9


def test_resp_and_http_share_one_failure_count(cpa):
    for _ in range(4):
        assert Client(cpa).call("AUTH", "wrong") == b"-ERR invalid management key"
    status, headers, body = mgmt(cpa, "/config", Authorization="Bearer nope")
    assert status == 401 and json.loads(body) == {"error": "invalid management key"}
    assert headers["X-CPA-VERSION"] == "7.2.140"  # even on a 401
    assert cpa.is_banned()
    status, _, body = mgmt(cpa, "/config")  # the right key, over HTTP
    assert status == 403 and json.loads(body)["error"].startswith("IP banned due to too many failed attempts. Try again in ")
    assert Client(cpa).call("AUTH", cpa.key).startswith(b"-ERR IP banned")


def test_go_duration_text():
    assert [go_duration(s) for s in (0, 59, 60, 1781, 1800, 3700)] == ["0s", "59s", "1m0s", "29m41s", "30m0s",
                                                                       "1h1m40s"]


# -- the rest of the command set (notes §1.3) ----------------------------------------------------


def test_unknown_commands_after_auth_leave_the_connection_open(cpa):
    client = authed(cpa)
    for args, name in ((["PING"], "ping"), (["HELLO", "3"], "hello"), (["CLIENT", "SETINFO", "LIB-NAME", "x"], "client"),
                       (["SELECT", "0"], "select"), (["INFO"], "info"), (["QUIT"], "quit"), (["Rpush", "usage", "x"], "rpush")):
        assert client.call(*args) == f"-ERR unknown command '{name}'".encode()
    cpa.publish(RECORD)
    assert client.call("LPOP", "usage") == RECORD


def test_empty_and_malformed_commands(cpa):
    client = authed(cpa)
    client.raw(b"*0\r\n")
    client.expect_raw(b"-ERR empty command\r\n")
    assert client.call("LPOP", "usage") is None  # still open
    client.raw(b"PING\r\n")  # inline commands are not RESP arrays
    client.expect_raw(b"-ERR protocol error\r\n")
    assert client.closed()
    for opening in (b"+PING\r\n", b"*-1\r\n", b"*1\r\n#x\r\n", b"*x\r\n", b"*1\r\n$3\r\nabcd\r\n"):
        other = Client(cpa)  # a RESP first byte routes to RESP, where only arrays are commands
        other.raw(opening)
        assert other.reply() == b"-ERR protocol error", opening
        assert other.closed(), opening


def test_simple_and_integer_strings_and_bare_lf_are_accepted(cpa):
    cpa.publish(b"1")
    cpa.publish(b"2")
    client = Client(cpa)
    client.raw(b"*2\r\n+AUTH\r\n+" + cpa.key.encode() + b"\n")
    assert client.reply() == b"+OK"
    client.raw(b"*3\n$4\nLPOP\r\n$5\nusage\r\n:2\n")  # bulk data itself must end in CRLF
    assert client.reply() == [b"1", b"2"]


def test_an_inline_command_on_a_new_connection_is_http(cpa):
    client = Client(cpa)
    client.raw(b"PING\r\n\r\n")
    status_line = client.line()
    assert status_line.startswith(b"HTTP/1.") and b" 400 " in status_line
    assert cpa.commands == []


def test_lpop_and_rpop_both_pop_the_oldest(cpa):
    records = [b'{"n":%d}' % i for i in range(5)]
    for record in records:
        cpa.publish(record)
    client = authed(cpa)
    client.send("LPOP", "usage")
    client.expect_raw(b"$7\r\n" + records[0] + b"\r\n")
    assert client.call("RPOP", "usage") == records[1]  # RPOP is not LIFO
    assert client.call("LPOP", "usage", 2) == records[2:4]
    assert client.call("rpop", "usage", 10) == records[4:]
    client.send("LPOP", "usage", 10)
    client.expect_raw(b"*0\r\n")  # empty with a count: an empty array
    client.send("RPOP", "usage")
    client.expect_raw(b"$-1\r\n")  # empty without: nil
    assert cpa.delivered == records and cpa.queue_len() == 0


def test_pop_argument_errors_in_cpa_order(cpa):
    client = authed(cpa)
    assert client.call("LPOP") == b"-ERR wrong number of arguments for 'lpop' command"
    assert client.call("RPOP", "usage", 1, 2) == b"-ERR wrong number of arguments for 'rpop' command"
    for count in ("0", "-1", "abc", "1.5", "99999999999999999999"):
        assert client.call("LPOP", "usage", count) == b"-ERR value is not an integer or out of range", count
    assert client.call("LPOP", "queue", 0) == b"-ERR value is not an integer or out of range"  # count first
    assert client.call("LPOP", "queue", 1) == b"-ERR unsupported channel 'queue'"


@pytest.mark.parametrize("version, strict", [("6.10.6", False), ("7.0.3", False), ("7.1.43", False),
                                             ("7.1.44", True), ("7.2.140", True)])
def test_queue_name_is_strict_from_7_1_44(version, strict):
    with FakeCPA(version=version) as cpa:
        client = authed(cpa)
        for name in ("queue", "errors", ""):
            cpa.publish(RECORD)
            expected = f"-ERR unsupported channel '{name}'".encode() if strict else [RECORD]
            assert client.call("LPOP", name, 1) == expected
            if strict:
                assert client.call("LPOP", "usage") == RECORD
        assert client.call("LPOP", " USAGE ", 3) == []  # trimmed, case-insensitive; empty is *0 in every era
        assert client.call("RPOP", "Usage") is None


# -- SUBSCRIBE (notes §1.3, §1.5; protocol "The queue") ---------------------------------------------


def test_subscribe_is_an_unknown_command_before_7_0_7():
    with FakeCPA(version="7.0.6") as cpa:
        client = authed(cpa)
        assert client.call("SUBSCRIBE", "usage") == b"-ERR unknown command 'subscribe'"
        cpa.publish(RECORD)
        assert client.call("LPOP", "usage", 5) == [RECORD]  # the fallback, on the same connection
        assert cpa.subscriber_count() == 0


@pytest.mark.parametrize("version, sent, frame, support_refresh", [
    ("7.0.7", "usage", b"usage", False),
    ("7.1.38", "usage", b"usage", False),
    ("7.1.39", "usage", b"usage", True),
    ("7.1.43", "USAGE", b"usage", True),  # frames name the canonical channel before 7.1.44
    ("7.1.44", " Usage ", b"Usage", True),  # from 7.1.44 the channel as sent, trimmed
    ("7.2.140", "usage", b"usage", True),
])
def test_subscribe_acknowledgement_and_support_refresh_by_version(version, sent, frame, support_refresh):
    with FakeCPA(version=version) as cpa:
        client = authed(cpa)
        client.send("SUBSCRIBE", sent)
        client.expect_raw(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(frame), frame))
        wait_for(lambda: cpa.subscriber_count() == 1, what="the subscriber")
        cpa.publish(RECORD)
        if support_refresh:
            client.expect_raw(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$24\r\n{\"support_refresh\":true}\r\n"
                              % (len(frame), frame))
        client.expect_raw(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(frame), frame, len(RECORD), RECORD))
        wait_for(lambda: cpa.delivered == [RECORD], what="the record counted as delivered")  # not the control message


def test_subscribe_argument_errors(cpa):
    client = authed(cpa)
    assert client.call("SUBSCRIBE", "usage", "errors") == b"-ERR wrong number of arguments for 'subscribe' command"
    assert client.call("SUBSCRIBE") == b"-ERR wrong number of arguments for 'subscribe' command"
    assert client.call("SUBSCRIBE", " other ") == b"-ERR unsupported channel 'other'"
    assert cpa.subscriber_count() == 0
    assert client.call("SUBSCRIBE", "usage") == [b"subscribe", b"usage", 1]  # the connection is still usable
    with FakeCPA(version="7.1.43") as old:
        assert authed(old).call("SUBSCRIBE", "errors") == b"-ERR unsupported channel 'errors'"


def test_a_published_record_is_pushed_to_every_subscriber_and_not_queued(cpa):
    first, second = subscribed(cpa), subscribed(cpa)
    poller = authed(cpa)
    wait_for(lambda: cpa.subscriber_count() == 2, what="two subscribers")
    cpa.publish({"n": 1})
    assert first.reply() == message(b"usage", b'{"n": 1}')  # a dict is sent as json.dumps
    assert second.reply() == message(b"usage", b'{"n": 1}')
    assert cpa.queue_len() == 0 and poller.call("LPOP", "usage", 10) == []
    wait_for(lambda: len(cpa.delivered) == 2, what="both deliveries")
    first.close()
    second.close()
    wait_for(lambda: cpa.subscriber_count() == 0, what="the subscribers to go")
    cpa.publish({"n": 2})  # nobody subscribed: queued again
    assert cpa.queue_len() == 1 and poller.call("LPOP", "usage") == b'{"n": 2}'


def test_refresh_and_the_errors_channel_reach_subscribers_only(cpa):
    usage, errors = subscribed(cpa), subscribed(cpa, "errors")
    wait_for(lambda: cpa.subscriber_count("errors") == 1 and cpa.subscriber_count() == 1, what="both subscribers")
    cpa.publish_error({"status_code": 429})
    cpa.publish_refresh()
    assert usage.reply() == message(b"usage", b'{"refresh":true}')  # the error event did not come here
    cpa.publish_error(b'{"status_code":500}')
    assert errors.reply() == message(b"errors", b'{"status_code": 429}')  # nor the refresh here
    assert errors.reply() == message(b"errors", b'{"status_code":500}')
    cpa.publish(RECORD)
    assert usage.reply() == message(b"usage", RECORD)
    wait_for(lambda: cpa.delivered == [RECORD], what="only the record counted as delivered")
    assert cpa.queue_len() == 0
    errors.close()
    usage.close()
    wait_for(lambda: cpa.subscriber_count() == 0 and cpa.subscriber_count("errors") == 0, what="no subscribers")
    cpa.publish_refresh()
    cpa.publish_error({"status_code": 401})
    assert cpa.queue_len() == 0  # neither is ever queued


def test_no_refresh_messages_before_7_1_39():
    with FakeCPA(version="7.1.38") as cpa:
        client = subscribed(cpa)
        cpa.publish_refresh()
        cpa.publish(RECORD)
        assert client.reply() == message(b"usage", RECORD)


def test_statistics_disabled_drop_every_record(cpa):
    client = subscribed(cpa)
    cpa.usage_statistics_enabled = False
    cpa.publish(RECORD)
    cpa.usage_statistics_enabled = True
    cpa.publish(b'{"n":2}')
    assert client.reply() == message(b"usage", b'{"n":2}')
    client.close()
    wait_for(lambda: cpa.subscriber_count() == 0, what="the subscriber to go")
    cpa.usage_statistics_enabled = False
    cpa.publish(RECORD)
    assert cpa.queue_len() == 0
    wait_for(lambda: cpa.delivered == [b'{"n":2}'], what="one delivery")


def test_inside_a_subscription(cpa):
    client = subscribed(cpa)
    client.send("PING")
    client.expect_raw(b"*2\r\n$4\r\npong\r\n$-1\r\n")  # nil, where Redis sends ""
    client.send("ping", "x")
    client.expect_raw(b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n")
    assert client.call("LPOP", "usage") == b"-ERR unknown command 'lpop'"
    assert client.call("AUTH", cpa.key) == b"-ERR unknown command 'auth'"
    client.raw(b"*0\r\n")
    assert client.reply() == b"-ERR empty command"
    cpa.publish(RECORD)  # the subscription went on
    assert client.reply() == message(b"usage", RECORD)
    client.send("UNSUBSCRIBE", "whatever")
    client.expect_raw(b"*3\r\n$11\r\nunsubscribe\r\n$5\r\nusage\r\n:0\r\n")
    assert client.closed()  # then the server closes
    wait_for(lambda: cpa.subscriber_count() == 0, what="the subscriber to go")
    cpa.publish(RECORD)
    assert cpa.queue_len() == 1


def test_quit_and_malformed_input_end_a_subscription(cpa):
    client = subscribed(cpa)
    assert client.call("QUIT") == b"+OK"
    assert client.closed()
    client = subscribed(cpa)
    client.raw(b"PING\r\n")
    assert client.reply() == b"-ERR protocol error" and client.closed()
    wait_for(lambda: cpa.subscriber_count() == 0, what="no subscriber")


def test_a_subscriber_that_never_reads_is_dropped_and_loses_the_record_that_did_not_fit():
    with FakeCPA(subscriber_buffer=8) as cpa:
        client = Client(cpa, rcvbuf=4096)
        assert client.call("AUTH", cpa.key) == b"+OK"
        client.send("SUBSCRIBE", "usage")  # and from now on read nothing
        wait_for(lambda: cpa.subscriber_count() == 1, what="the subscriber")
        published = []
        deadline = time.monotonic() + 8
        while not cpa.dropped_subscribers:
            assert time.monotonic() < deadline, "never dropped"
            payload = b'{"n":%d,"pad":"%s"}' % (len(published), b"x" * 200_000)
            written = len(cpa.delivered)
            cpa.publish(payload)
            published.append(payload)
            # pace: give the writer a moment to move it to the socket while the TCP buffers still
            # take it (only for realism; the assertions below hold however fast it is)
            pace_end = time.monotonic() + 0.05
            while len(cpa.delivered) == written and not cpa.dropped_subscribers and time.monotonic() < pace_end:
                time.sleep(0.002)
        assert cpa.dropped_subscribers == 1 and cpa.lost == [published[-1]]
        assert cpa.subscriber_count() == 0
        cpa.publish(RECORD)  # no subscriber left: back to the queue
        assert cpa.queue_len() == 1
        # What was buffered is still written, then the connection closes.
        assert client.reply() == [b"subscribe", b"usage", 1]
        assert client.reply() == message(b"usage", b'{"support_refresh":true}')
        received = []
        with pytest.raises(ConnectionError):
            while True:
                received.append(client.reply()[2])
        assert received == published[:-1] == cpa.delivered


def test_frozen_subscribers_get_neither_messages_nor_pongs(cpa):
    client = subscribed(cpa)
    cpa.freeze_subscribers(True)
    client.send("PING")
    # replies are written in order: had the PING been answered, the pong would come first
    assert client.call("LPOP", "usage") == b"-ERR unknown command 'lpop'"
    cpa.publish(RECORD)
    time.sleep(0.1)  # an absence check: a correct fake passes whatever the scheduling
    assert cpa.delivered == [] and cpa.subscriber_count() == 1
    cpa.freeze_subscribers(False)
    assert client.reply() == message(b"usage", RECORD)
    assert client.call("PING") == [b"pong", None]


def test_a_frozen_subscriber_is_dropped_when_its_buffer_fills():
    with FakeCPA(subscriber_buffer=4) as cpa:
        client = subscribed(cpa)
        cpa.freeze_subscribers(True)
        records = [b'{"n":%d}' % i for i in range(7)]
        for record in records:
            cpa.publish(record)
        # 4 fit in the buffer (5 if the blocked writer had already taken the first one), the
        # next one is lost, and with no subscriber left the rest are queued
        assert cpa.dropped_subscribers == 1 and len(cpa.lost) == 1 and cpa.subscriber_count() == 0
        kept = records.index(cpa.lost[0])
        assert kept in (4, 5)
        assert authed(cpa).call("LPOP", "usage", 10) == records[kept + 1:]
        cpa.freeze_subscribers(False)
        received = []
        with pytest.raises(ConnectionError):
            while True:
                received.append(client.reply()[2])
        assert received == records[:kept]
        assert cpa.delivered == records[kept + 1:] + records[:kept]  # popped first, written after the thaw


def test_what_is_buffered_at_unsubscribe_is_never_written(cpa):
    client = subscribed(cpa)
    cpa.freeze_subscribers(True)
    for i in range(3):
        cpa.publish(b'{"n":%d}' % i)
    client.send("UNSUBSCRIBE")
    assert client.reply() == [b"unsubscribe", b"usage", 0]
    assert client.closed()
    cpa.freeze_subscribers(False)
    wait_for(lambda: len(cpa.discarded) == 3, what="the buffered records discarded")
    assert cpa.delivered == [] and client.buffer == b""


# -- the queue's retention (notes §1.5) ----------------------------------------------------------


def test_retention_prunes_with_the_injected_clock():
    clock = ManualClock()
    with FakeCPA(retention_seconds=60, clock=clock) as cpa:
        cpa.publish(b'{"n":1}')
        clock.now += 30
        cpa.publish(b'{"n":2}')
        clock.now += 30
        assert cpa.queue_len() == 2  # exactly 60 s old: kept (pruned only when strictly older)
        clock.now += 0.5
        assert cpa.queue_len() == 1
        clock.now += 30
        client = authed(cpa)
        assert client.call("LPOP", "usage", 10) == []  # pruned on pop as well
        cpa.publish(b'{"n":3}')
        assert client.call("LPOP", "usage") == b'{"n":3}'
        assert cpa.delivered == [b'{"n":3}']


def test_retention_is_normalised_as_cpa_does():
    assert FakeCPA(retention_seconds=0).retention_seconds == 60
    assert FakeCPA(retention_seconds=7200).retention_seconds == 3600
    assert FakeCPA(retention_seconds=5).retention_seconds == 5
    assert FakeCPA(retention_seconds=5, version="6.10.0").retention_seconds == 60  # fixed before 6.10.1


# -- refusals, restarts, concurrency ------------------------------------------------------------------


def test_home_mode_and_disabled_management_refuse_resp():
    with FakeCPA(home_mode=True) as home:
        client = Client(home)
        client.send("AUTH", home.key)
        client.expect_raw(b"-ERR redis usage output disabled in home mode\r\n")
        assert client.closed()
        assert http(home, "/v0/management/config", Authorization=f"Bearer {home.key}")[0] == 404
    with FakeCPA(management_enabled=False) as off:
        client = Client(off)
        client.send("AUTH", off.key)
        assert client.closed() and client.buffer == b""  # closed without a reply
        status, headers, body = http(off, "/v0/management/config", Authorization=f"Bearer {off.key}")
        assert status == 404 and body == b"" and "X-CPA-VERSION" not in headers
        assert http(off, "/healthz")[2] == b'{"status":"ok"}'
        assert off.failed_attempts_total() == 0
    with FakeCPA(version="7.1.17") as broken:
        client = Client(broken)
        client.send("AUTH", broken.key)
        assert client.reply() == b"-ERR RESP AUTH disabled; use mTLS" and client.closed()


def test_turning_management_off_clears_the_queue_and_ends_subscriptions(cpa):
    cpa.publish(RECORD)
    client = subscribed(cpa)
    poller = authed(cpa)
    cpa.publish(b'{"n":1}')
    cpa.management_enabled = False
    assert client.reply() == message(b"usage", b'{"n":1}')  # what was buffered is flushed first
    assert client.closed() and cpa.queue_len() == 0 and cpa.subscriber_count() == 0
    # CPA checks before reading each command: depending on where the handler was when
    # management went off, this LPOP is answered (nil: the queue is gone) or not read at all
    poller.send("LPOP", "usage")
    assert poller.closed() and poller.buffer in (b"", b"$-1\r\n")


def test_stop_closes_everything_and_start_listens_on_the_same_port(cpa):
    port = cpa.port
    subscriber, poller = subscribed(cpa), authed(cpa)
    for _ in range(5):
        Client(cpa).call("AUTH", "wrong")
    subscriber.close()
    wait_for(lambda: cpa.subscriber_count() == 0, what="no subscriber")
    cpa.publish(RECORD)
    assert cpa.is_banned() and cpa.queue_len() == 1
    idle = Client(cpa)  # a connection that has not sent anything yet
    cpa.stop()
    assert poller.closed() and idle.closed()
    with pytest.raises(OSError):
        socket.create_connection((cpa.host, port), timeout=1).close()
    cpa.start()
    assert cpa.port == port and cpa.url == f"http://127.0.0.1:{port}"
    assert cpa.queue_len() == 0 and not cpa.is_banned()  # a restart loses the queue and the bans
    assert cpa.failed_attempts_total() == 5 and len(cpa.commands) == 8  # what was recorded is kept
    client = authed(cpa)
    assert client.call("LPOP", "usage", 1) == []
    cpa.stop()
    cpa.stop()  # idempotent
    with FakeCPA(port=port) as again:  # SO_REUSEADDR: a new fake on the same port at once
        assert authed(again).call("LPOP", "usage") is None


def test_publish_from_threads_while_a_client_pops(cpa):
    per_thread, threads = 250, 4
    client = authed(cpa)

    def publisher(t):
        for i in range(per_thread):
            cpa.publish(b'{"t":%d,"i":%d}' % (t, i))

    workers = [threading.Thread(target=publisher, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    popped = []
    deadline = time.monotonic() + TIMEOUT
    while len(popped) < per_thread * threads and time.monotonic() < deadline:
        popped += client.call("LPOP", "usage", 100)
    for worker in workers:
        worker.join()
    records = [json.loads(p) for p in popped]
    assert len(records) == per_thread * threads
    for t in range(threads):  # each thread's records, once each and in its order
        assert [r["i"] for r in records if r["t"] == t] == list(range(per_thread))
    assert cpa.queue_len() == 0 and cpa.delivered == popped


def test_commands_and_http_requests_are_recorded(cpa):
    client = Client(cpa)
    client.call("AUTH", cpa.key)
    client.call("LPOP", "usage", 5)
    ours = [c for c in cpa.commands if c.args[0] in (b"AUTH", b"LPOP")]
    assert [c.args for c in ours] == [[b"AUTH", cpa.key.encode()], [b"LPOP", b"usage", b"5"]]
    assert ours[0].conn_id == ours[1].conn_id and ours[0].peer_ip == "127.0.0.1" and ours[0].at <= ours[1].at
    assert authed(cpa) and cpa.commands[-1].conn_id != ours[0].conn_id
    mgmt(cpa, "/usage-statistics-enabled", "PUT", b'{"value":true}', Content_Type="application/json")
    request = cpa.http_requests[-1]
    assert (request.method, request.path, request.body, request.peer_ip) == (
        "PUT", "/v0/management/usage-statistics-enabled", b'{"value":true}', "127.0.0.1")
    assert request.headers["Authorization"] == f"Bearer {cpa.key}"


def test_resp_off_serves_every_connection_as_http():
    """v8.md: RESP "possibly off". Then RESP bytes are a malformed HTTP request line: Go's
    400 and a close, nothing read as a command, no key failure counted; HTTP goes on."""
    with FakeCPA(version="8.0.5", resp_enabled=False) as cpa:
        cpa.publish(RECORD)
        for opening in (b"*1\r\n$4\r\nPING\r\n", command("AUTH", cpa.key), command("LPOP", "usage")):
            client = Client(cpa)
            client.raw(opening)
            assert client.line() == b"HTTP/1.1 400 Bad Request", opening
            assert client.closed(), opening
        assert cpa.commands == [] and cpa.http_requests == []
        assert cpa.failed_attempts_total() == 0 and cpa.queue_len() == 1
        assert json.loads(mgmt(cpa, "/usage-queue")[2]) == [json.loads(RECORD)]
        cpa.resp_enabled = True  # a run-time knob: the same fake speaks RESP again
        assert Client(cpa).call("AUTH", cpa.key) == b"+OK"


# -- HTTP on the same port (notes §2, §5) -------------------------------------------------------------


def test_healthz_needs_no_key(cpa):
    status, headers, body = http(cpa, "/healthz")
    assert (status, body) == (200, b'{"status":"ok"}') and headers["Content-Type"].startswith("application/json")
    assert cpa.failed_attempts_total() == 0


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer test-mgmt-key"}, {"Authorization": "bearer test-mgmt-key"},
                                     {"Authorization": "test-mgmt-key"}, {"X-Management-Key": "test-mgmt-key"}])
def test_management_key_forms(cpa, headers):
    status, response_headers, body = http(cpa, "/v0/management/usage-statistics-enabled", **headers)
    assert status == 200 and json.loads(body) == {"usage-statistics-enabled": True}
    assert response_headers["X-CPA-VERSION"] == "7.2.140" and cpa.auth_failures() == 0


def test_management_key_failures():
    with FakeCPA(ban_clock=ManualClock()) as cpa:
        _management_key_failures(cpa)


def _management_key_failures(cpa):
    status, headers, body = http(cpa, "/v0/management/api-keys")
    assert (status, json.loads(body)) == (401, {"error": "missing management key"})
    assert headers["X-CPA-VERSION"] == "7.2.140"
    status, _, body = http(cpa, "/v0/management/api-keys", Authorization="Bearer wrong")
    assert (status, json.loads(body)) == (401, {"error": "invalid management key"})
    # another Authorization scheme is taken whole as the key, and wins over X-Management-Key
    status, _, _ = http(cpa, "/v0/management/api-keys", Authorization="Basic dXNlcjpwYXNz", X_Management_Key=cpa.key)
    assert status == 401 and cpa.auth_failures() == 3
    for _ in range(2):
        http(cpa, "/v0/management/api-keys", X_Management_Key="wrong")
    status, _, body = http(cpa, "/v0/management/api-keys", X_Management_Key=cpa.key)
    assert status == 403 and json.loads(body) == {
        "error": "IP banned due to too many failed attempts. Try again in 30m0s"}


def test_x_forwarded_for_is_the_http_client_address():
    with FakeCPA() as cpa:  # a non-loopback address is remote: refused, not counted
        status, _, body = mgmt(cpa, "/config", X_Forwarded_For="10.0.0.7, 127.0.0.1")
        assert (status, json.loads(body)) == (403, {"error": "remote management disabled"})
        assert cpa.failed_attempts_total() == 0
    with FakeCPA(allow_remote=True) as cpa:
        for _ in range(5):
            mgmt(cpa, "/config", Authorization="Bearer wrong", X_Forwarded_For="10.0.0.7")
        assert cpa.is_banned("10.0.0.7") and not cpa.is_banned("127.0.0.1")
        assert mgmt(cpa, "/config", X_Real_IP="10.0.0.7")[0] == 403
        assert mgmt(cpa, "/config")[0] == 200
        assert authed(cpa)  # RESP uses the TCP peer


def test_management_answers(cpa):
    cpa.auth_files = cpa.auth_files[:1]
    cpa.provider_keys["codex-api-key"] = [{"api-key": "sk-codex", "auth-index": "0123456789abcdef"}]
    cpa.openai_compatibility = [{"name": "x", "api-key-entries": []}]
    files = json.loads(mgmt(cpa, "/auth-files")[2])["files"]
    assert len(files) == 1 and len(files[0]["auth_index"]) == 16 and int(files[0]["auth_index"], 16) >= 0
    assert json.loads(mgmt(cpa, "/api-keys")[2]) == {"api-keys": ["test-client-key-1"]}
    assert json.loads(mgmt(cpa, "/codex-api-key")[2]) == {
        "codex-api-key": [{"api-key": "sk-codex", "auth-index": "0123456789abcdef"}]}
    for name in ("gemini-api-key", "claude-api-key", "vertex-api-key", "xai-api-key", "interactions-api-key"):
        assert list(json.loads(mgmt(cpa, "/" + name)[2])) == [name]
    assert json.loads(mgmt(cpa, "/openai-compatibility")[2]) == {"openai-compatibility": [{"name": "x", "api-key-entries": []}]}
    config = json.loads(mgmt(cpa, "/config")[2])
    assert config["usage-statistics-enabled"] is True and config["redis-usage-queue-retention-seconds"] == 60
    assert cpa.failed_attempts_total() == 0


def test_default_answers_match_the_sample_payloads(cpa):
    indexes = {f["auth_index"] for f in json.loads(mgmt(cpa, "/auth-files")[2])["files"]}
    indexes |= {e["auth-index"] for name in ("gemini-api-key", "claude-api-key")
                for e in json.loads(mgmt(cpa, "/" + name)[2])[name]}
    compat = json.loads(mgmt(cpa, "/openai-compatibility")[2])["openai-compatibility"]
    indexes |= {e["auth-index"] for entry in compat for e in entry["api-key-entries"]}
    lines = (pathlib.Path(__file__).parent / "fixtures" / "payloads" / "v7.2.jsonl").read_text().splitlines()
    payloads = [json.loads(line) for line in lines if line.strip()]
    assert {p["auth_index"] for p in payloads if p["auth_index"]} <= indexes


def test_usage_statistics_enabled_can_be_read_and_set(cpa):
    assert json.loads(mgmt(cpa, "/usage-statistics-enabled")[2]) == {"usage-statistics-enabled": True}
    status, _, body = mgmt(cpa, "/usage-statistics-enabled", "PUT", b'{"value": false}')
    assert (status, json.loads(body)) == (200, {"status": "ok"}) and cpa.usage_statistics_enabled is False
    cpa.publish(RECORD)
    assert cpa.queue_len() == 0  # CPA drops records now
    assert json.loads(mgmt(cpa, "/config")[2])["usage-statistics-enabled"] is False
    assert mgmt(cpa, "/usage-statistics-enabled", "PATCH", b'{"value": true}')[0] == 200
    cpa.publish(RECORD)
    assert cpa.queue_len() == 1
    for bad in (b"", b"{}", b'{"value": "true"}', b'{"value": null}', b"[true]"):
        status, _, body = mgmt(cpa, "/usage-statistics-enabled", "PUT", bad)
        assert (status, json.loads(body)) == (400, {"error": "invalid body"}), bad
    assert cpa.usage_statistics_enabled is True


def test_http_usage_queue_pops_the_same_fifo(cpa):
    for i in range(4):
        cpa.publish(b'{"n": %d, "html": "<&>"}' % i)
    status, headers, body = mgmt(cpa, "/usage-queue")
    # one record by default, re-emitted as Go's encoder does: compacted, < > & escaped
    assert status == 200 and body == b'[{"n":0,"html":"\\u003c\\u0026\\u003e"}]'
    assert headers["X-CPA-VERSION"] == "7.2.140"
    assert authed(cpa).call("LPOP", "usage") == b'{"n": 1, "html": "<&>"}'
    assert [r["n"] for r in json.loads(mgmt(cpa, "/usage-queue?count=10")[2])] == [2, 3]
    assert mgmt(cpa, "/usage-queue?count=10")[2] == b"[]"
    cpa.publish(b"not json")
    assert json.loads(mgmt(cpa, "/usage-queue?count=1")[2]) == ["not json"]
    for count in ("0", "-2", "abc"):
        status, _, body = mgmt(cpa, f"/usage-queue?count={count}")
        assert (status, json.loads(body)) == (400, {"error": "count must be a positive integer"})
    assert len(cpa.delivered) == 5


def test_http_usage_queue_needs_6_10_8_and_a_key():
    with FakeCPA(version="6.10.7") as old:
        old.publish(RECORD)
        status, _, body = mgmt(old, "/usage-queue?count=1")
        assert (status, body) == (404, b"404 page not found") and old.queue_len() == 1
    with FakeCPA(version="6.10.8") as cpa:
        cpa.publish(RECORD)
        assert http(cpa, "/v0/management/usage-queue")[0] == 401 and cpa.queue_len() == 1
        assert json.loads(mgmt(cpa, "/usage-queue")[2]) == [json.loads(RECORD)]


def test_unknown_management_routes():
    with FakeCPA() as cpa:  # from 7.1.47: the key is checked (and failures counted) first
        assert http(cpa, "/v0/management/no-such-route")[0] == 401 and cpa.auth_failures() == 1
        status, headers, body = mgmt(cpa, "/no-such-route")
        assert (status, body) == (404, b"") and headers["X-CPA-VERSION"] == "7.2.140"
    with FakeCPA(version="7.1.46") as old:  # before: gin's own 404, no key check
        assert http(old, "/v0/management/no-such-route")[:3:2] == (404, b"404 page not found")
        assert old.auth_failures() == 0


def test_models_need_a_client_key(cpa):
    assert http(cpa, "/v1/models")[0:3:2] == (401, b'{"error":"Missing API key"}')
    assert http(cpa, "/v1/models", Authorization="Bearer nope")[0:3:2] == (401, b'{"error":"Invalid API key"}')
    cpa.models = [{"id": "m1", "object": "model", "created": 1, "owned_by": "me", "type": "hidden"}]
    for headers, path in (({"Authorization": "Bearer test-client-key-1"}, "/v1/models"),
                          ({"X-Api-Key": "test-client-key-1"}, "/v1/models"),
                          ({"X-Goog-Api-Key": "test-client-key-1"}, "/v1/models"),
                          ({}, "/v1/models?key=test-client-key-1")):
        status, _, body = http(cpa, path, **headers)
        assert status == 200 and json.loads(body) == {
            "object": "list", "data": [{"id": "m1", "object": "model", "created": 1, "owned_by": "me"}]}, headers
    assert cpa.failed_attempts_total() == 0  # client keys are not management keys
    with FakeCPA(client_keys=()) as open_proxy:
        assert http(open_proxy, "/v1/models")[0] == 200
    with FakeCPA(client_keys=("your-api-key-1",)) as template:
        status, headers, body = http(template, "/v1/models", Authorization="Bearer your-api-key-1")
        assert status == 403 and json.loads(body)["error"] == "unsafe_example_api_key"


def test_http_keep_alive_carries_many_requests_on_one_connection(cpa):
    connection = HTTPConnection(cpa.host, cpa.port, timeout=TIMEOUT)
    try:
        for path, headers in (("/healthz", {}), ("/v0/management/config", {"Authorization": f"Bearer {cpa.key}"}),
                              ("/v1/models", {"Authorization": "Bearer test-client-key-1"})):
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read()), path
            assert response.getheader("Connection") is None  # no "close": the connection stays usable
    finally:
        connection.close()
    assert [r.path for r in cpa.http_requests] == ["/healthz", "/v0/management/config", "/v1/models"]
    conn_ids = {r.conn_id for r in cpa.http_requests}
    assert len(conn_ids) == 1 and conn_ids != {0}
    http(cpa, "/healthz")  # urllib opens a connection per request
    assert cpa.http_requests[-1].conn_id not in conn_ids


@pytest.mark.parametrize("name, before, since", [("xai-api-key", "7.2.72", "7.2.73"),
                                                 ("interactions-api-key", "7.2.50", "7.2.51")])
def test_v0_provider_lists_exist_from_their_version(name, before, since):
    with FakeCPA(version=before) as old:  # an unknown management route: 404 after the key check
        status, headers, body = mgmt(old, "/" + name)
        assert (status, body) == (404, b"") and headers["X-CPA-VERSION"] == before
        assert old.failed_attempts_total() == 0 and name not in json.loads(mgmt(old, "/config")[2])
    with FakeCPA(version=since) as cpa:
        status, headers, body = mgmt(cpa, "/" + name)
        assert (status, json.loads(body)) == (200, {name: []}) and headers["X-CPA-VERSION"] == since
        assert json.loads(mgmt(cpa, "/config")[2])[name] == []


def test_v0_meta_list_only_beside_the_v8_api():
    meta = [{"api-key": "sk-meta-FAKE", "auth-index": "7a6b5c4d3e2f1a0b"}]
    with FakeCPA() as v7:
        v7.provider_keys["meta-api-key"] = meta
        assert mgmt(v7, "/meta-api-key")[0:3:2] == (404, b"")
        assert "meta-api-key" not in json.loads(mgmt(v7, "/config")[2])
        v7.v8_api = True
        assert json.loads(mgmt(v7, "/meta-api-key")[2]) == {"meta-api-key": meta}
    with FakeCPA(version="8.0.5") as v8:
        assert json.loads(mgmt(v8, "/meta-api-key")[2]) == {"meta-api-key": []}


def test_v0_config_has_the_effective_retention():
    for asked, effective in ((5, 5), (0, 60), (7200, 3600), (2.5, 2.5)):
        with FakeCPA(retention_seconds=asked) as cpa:
            assert json.loads(mgmt(cpa, "/config")[2])["redis-usage-queue-retention-seconds"] == effective


def test_v0_removed_makes_every_v0_path_unknown():
    with FakeCPA(version="8.0.5", v0_api=False) as cpa:
        cpa.publish(RECORD)
        for path in ("/config", "/usage-queue", "/usage-statistics-enabled"):
            status, headers, body = mgmt(cpa, path)
            assert (status, body) == (404, b"") and "X-CPA-VERSION" not in headers, path
        assert http(cpa, "/v0/management/config", Authorization="Bearer wrong")[0] == 404
        assert http(cpa, "/v0/other")[0] == 404
        assert cpa.failed_attempts_total() == 0 and cpa.queue_len() == 1  # no key check, nothing popped
        assert http(cpa, "/healthz")[0] == 200
        assert v8(cpa, "/config/observability/usage/usage-statistics-enabled")[0:3:2] == (200, b"true")


# -- the v8 management API (v8.md "Management API v8") --------------------------------------------------


def v8(cpa: FakeCPA, path: str, method: str = "GET", body: bytes | None = None, **headers):
    headers.setdefault("Authorization", f"Bearer {cpa.key}")
    return http(cpa, "/v8/management" + path, method, body, **headers)


@pytest.fixture
def cpa8():
    with FakeCPA(version="8.0.5") as fake:
        yield fake


NOT_FOUND = {"error": "not_found"}


def test_v8_is_an_unknown_route_without_the_v8_api():
    for knobs in ({}, {"version": "8.0.5", "v8_api": False}):
        with FakeCPA(**knobs) as cpa:
            cpa.publish(RECORD)
            for key in (cpa.key, "wrong", ""):
                status, headers, body = http(cpa, "/v8/management/observability/usage/queue",
                                             Authorization=f"Bearer {key}")
                assert (status, body) == (404, b"") and "X-CPA-VERSION" not in headers, (knobs, key)
            assert cpa.failed_attempts_total() == 0 and cpa.queue_len() == 1, knobs
    with FakeCPA(version="7.2.140", v8_api=True) as forced:
        status, headers, body = v8(forced, "/credentials")
        assert status == 200 and headers["X-CPA-VERSION"] == "7.2.140" and len(json.loads(body)["files"]) == 4


def test_v8_uses_the_v0_key_check_headers_and_ban():
    with FakeCPA(version="8.0.5", ban_clock=ManualClock()) as cpa:
        status, headers, body = http(cpa, "/v8/management/credentials")
        assert (status, json.loads(body)) == (401, {"error": "missing management key"})
        assert headers["X-CPA-VERSION"] == "8.0.5" and headers["X-CPA-SUPPORT-PLUGIN"] == "true"
        status, _, body = v8(cpa, "/credentials", X_Management_Key=cpa.key, Authorization="Bearer wrong")
        assert (status, json.loads(body)) == (401, {"error": "invalid management key"})
        assert v8(cpa, "/credentials", Authorization="", X_Management_Key=cpa.key)[0] == 200  # resets the count
        assert cpa.auth_failures() == 0 and cpa.failed_attempts_total() == 2
        for _ in range(4):
            assert Client(cpa).call("AUTH", "wrong") == b"-ERR invalid management key"
        assert http(cpa, "/v8/management/no-such-route")[0] == 401  # unknown routes are checked too: the 5th
        assert cpa.is_banned()
        status, headers, body = v8(cpa, "/credentials")
        assert status == 403 and json.loads(body) == {
            "error": "IP banned due to too many failed attempts. Try again in 30m0s"}
        assert headers["X-CPA-VERSION"] == "8.0.5"
    for knobs in ({"management_enabled": False}, {"home_mode": True}):
        with FakeCPA(version="8.0.5", **knobs) as off:
            status, headers, body = v8(off, "/credentials")
            assert (status, body) == (404, b"") and "X-CPA-VERSION" not in headers, knobs
            assert off.failed_attempts_total() == 0


def test_v8_routes_and_their_shapes(cpa8):
    status, headers, body = v8(cpa8, "/credentials")
    assert status == 200 and json.loads(body) == {"files": cpa8.auth_files}
    assert headers["X-CPA-VERSION"] == "8.0.5" and headers["Content-Type"].startswith("application/json")
    assert v8(cpa8, "/config/access/api-keys")[0:3:2] == (200, b'["test-client-key-1"]')
    assert json.loads(v8(cpa8, "/config/api-keys/gemini")[2]) == [
        {"name": "gemini-1", "base-url": "", "keys": [
            {"api-key": "AIzaSyFAKE-gemini-key-0001", "weight": 1, "auth-index": "6be21f04d9a3c857"}]}]
    assert json.loads(v8(cpa8, "/config/api-keys/claude")[2]) == [
        {"name": "claude-1", "base-url": "https://api.anthropic.com", "keys": [
            {"api-key": "sk-ant-api03-FAKE-claude-key-xyz", "weight": 1, "auth-index": "0e4d7b2a9c13f588"}]}]
    compat = json.loads(v8(cpa8, "/config/api-keys/openai-compatibility")[2])
    assert [(g["name"], g["base-url"], g["disabled"]) for g in compat] == [
        ("openrouter", "https://openrouter.ai/api/v1", False), ("fake", "http://127.0.0.1:9999/v1", False)]
    assert compat[0]["models"][0] == {"name": "moonshotai/kimi-k2:free", "alias": "kimi-k2"}
    assert compat[1]["keys"] == [{"api-key": "sk-fake-upstream", "weight": 1, "auth-index": "18497dfa668310f0"}]
    # no entries, no node: the empty lists, a provider CPA lacks, and an unknown one alike
    for provider in ("codex", "vertex", "xai", "interactions", "meta", "nope"):
        status, _, body = v8(cpa8, "/config/api-keys/" + provider)
        assert (status, json.loads(body)) == (404, NOT_FOUND), provider
    assert cpa8.failed_attempts_total() == 0


def test_v8_key_groups_follow_the_v0_lists():
    with FakeCPA(version="8.0.5") as cpa:
        cpa.provider_keys["codex-api-key"] = [
            {"api-key": "sk-codex-a", "name": "team", "auth-index": "00000000000000aa"},
            {"api-key": "sk-codex-b", "base-url": "https://codex.example", "auth-index": "00000000000000bb"}]
        cpa.provider_keys["meta-api-key"] = [{"api-key": "sk-meta", "auth-index": "00000000000000cc"}]
        cpa.provider_keys["gemini-api-key"] = []
        assert json.loads(v8(cpa, "/config/api-keys/codex")[2]) == [
            {"name": "team", "base-url": "", "keys": [{"api-key": "sk-codex-a", "weight": 1,
                                                       "auth-index": "00000000000000aa"}]},
            {"name": "codex-2", "base-url": "https://codex.example",
             "keys": [{"api-key": "sk-codex-b", "weight": 1, "auth-index": "00000000000000bb"}]}]
        assert json.loads(v8(cpa, "/config/api-keys/meta")[2])[0]["keys"][0]["api-key"] == "sk-meta"
        assert v8(cpa, "/config/api-keys/gemini")[0] == 404
        assert set(json.loads(v8(cpa, "/config/api-keys")[2])) == {"codex", "meta", "claude", "openai-compatibility"}
        cpa.v8_key_auth_index = False  # what v8.md shows: api-key and weight only
        groups = json.loads(v8(cpa, "/config/api-keys")[2])
        keys = [key for provider in groups.values() for group in provider for key in group["keys"]]
        assert len(keys) == 6 and all(set(key) == {"api-key", "weight"} for key in keys)
        cpa.provider_keys = {name: [] for name in cpa.provider_keys}
        cpa.openai_compatibility = []
        assert v8(cpa, "/config/api-keys")[0] == 404 and "api-keys" not in json.loads(v8(cpa, "/config")[2])


def test_v8_config_document_and_paths():
    with FakeCPA(version="8.0.5", retention_seconds=5, usage_statistics_enabled=False) as cpa:
        status, headers, body = v8(cpa, "/config")
        document = json.loads(body)
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert document["observability"]["usage"] == {"usage-statistics-enabled": False,
                                                      "redis-usage-queue-retention-seconds": 5}
        assert document["access"] == {"api-keys": ["test-client-key-1"]}
        assert set(document["api-keys"]) == {"gemini", "claude", "openai-compatibility"}
        assert document["api-keys"]["gemini"] == json.loads(v8(cpa, "/config/api-keys/gemini")[2])
        path = "/config/observability/usage/redis-usage-queue-retention-seconds"
        assert v8(cpa, path)[0:3:2] == (200, b"5")
        assert v8(cpa, "/config/observability/usage/usage-statistics-enabled")[0:3:2] == (200, b"false")
        assert v8(cpa, "/config/routing/strategy")[2] == b'"round-robin"'
        assert json.loads(v8(cpa, "/config/observability/usage")[2]) == document["observability"]["usage"]
        cpa.retention_seconds = 7200  # hot-reloaded, and clamped as CPA does
        assert v8(cpa, path)[2] == b"3600"
        cpa.retention_seconds = 2.5
        assert v8(cpa, path)[2] == b"2.5"
        for missing in ("/config/nope", "/config/observability/usage/nope", "/config/access/api-keys/0",
                        "/config/observability/usage/usage-statistics-enabled/x"):
            status, headers, body = v8(cpa, missing)
            assert (status, json.loads(body)) == (404, NOT_FOUND), missing
            assert headers["X-CPA-VERSION"] == "8.0.5", missing
        assert cpa.failed_attempts_total() == 0


def test_v8_usage_statistics_enabled_takes_the_raw_value(cpa8):
    path = "/config/observability/usage/usage-statistics-enabled"
    assert v8(cpa8, path)[0:3:2] == (200, b"true")
    status, _, body = v8(cpa8, path, "PUT", b"false", Content_Type="application/json")
    assert (status, json.loads(body)) == (200, {"status": "ok", "config-version": 8})
    assert cpa8.usage_statistics_enabled is False and v8(cpa8, path)[2] == b"false"
    assert json.loads(mgmt(cpa8, "/usage-statistics-enabled")[2]) == {"usage-statistics-enabled": False}
    cpa8.publish(RECORD)
    assert cpa8.queue_len() == 0  # CPA drops records now
    assert v8(cpa8, path, "PATCH", b" true ")[0] == 200 and cpa8.usage_statistics_enabled is True
    for bad in (b'{"value": false}', b'{"value":false}', b"", b'"false"', b"null", b"0", b"[false]", b"fals"):
        status, _, body = v8(cpa8, path, "PUT", bad)
        answer = json.loads(body)
        assert status == 400 and answer["error"] == "invalid_config" and answer["message"], bad
    assert cpa8.usage_statistics_enabled is True  # a rejected write changes nothing
    assert mgmt(cpa8, "/usage-statistics-enabled", "PUT", b"false")[0] == 400  # v0 still wants its envelope
    assert cpa8.failed_attempts_total() == 0


def test_v8_queue_pops_the_same_fifo_as_lpop_and_v0(cpa8):
    for i in range(6):
        cpa8.publish(b'{"n": %d, "html": "<&>"}' % i)
    status, headers, body = v8(cpa8, "/observability/usage/queue")
    assert status == 200 and body == b'[{"n":0,"html":"\\u003c\\u0026\\u003e"}]'  # one by default, Go's encoding
    assert headers["X-CPA-VERSION"] == "8.0.5"
    assert authed(cpa8).call("LPOP", "usage") == b'{"n": 1, "html": "<&>"}'
    assert [r["n"] for r in json.loads(mgmt(cpa8, "/usage-queue?count=2")[2])] == [2, 3]
    assert [r["n"] for r in json.loads(v8(cpa8, "/observability/usage/queue?count=10")[2])] == [4, 5]
    assert v8(cpa8, "/observability/usage/queue?count=10")[0:3:2] == (200, b"[]")
    cpa8.publish(b"not json")
    assert json.loads(v8(cpa8, "/observability/usage/queue?count=1")[2]) == ["not json"]
    cpa8.publish(RECORD)
    for count in ("0", "-2", "abc", "1.5"):
        status, _, body = v8(cpa8, f"/observability/usage/queue?count={count}")
        assert (status, json.loads(body)) == (400, {"error": "count must be a positive integer"}), count
    assert cpa8.queue_len() == 1 and len(cpa8.delivered) == 7
    assert http(cpa8, "/v8/management/observability/usage/queue")[0] == 401 and cpa8.queue_len() == 1


def test_v8_unknown_paths_are_not_found_after_the_key_check(cpa8):
    for method, path in (("GET", ""), ("GET", "/"), ("GET", "/no-such-route"), ("POST", "/credentials"),
                         ("PUT", "/observability/usage/queue"), ("GET", "/observability/usage"),
                         ("GET", "/usage-queue"), ("GET", "/auth-files")):
        status, headers, body = v8(cpa8, path, method, b"" if method != "GET" else None)
        assert (status, json.loads(body)) == (404, NOT_FOUND), (method, path)
        assert headers["X-CPA-VERSION"] == "8.0.5", (method, path)
    assert cpa8.failed_attempts_total() == 0
    assert http(cpa8, "/v8/management/no-such-route", Authorization="Bearer wrong")[0] == 401
    assert cpa8.auth_failures() == 1
