"""The fake CPA itself, spoken to over raw sockets: every reply form the drain tests
rely on, as research-notes §1-§2 describe CPA. If the fake drifted from CPA, the drain
tests would prove nothing."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from backends import wait_for
from fake_cpa import FakeCPA, go_duration


def command(*args) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class Client:
    def __init__(self, cpa):
        self.sock = socket.create_connection((cpa.host, cpa.port), timeout=5)
        self.buffer = b""

    def send(self, *args) -> None:
        self.sock.sendall(command(*args))

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return line
        if kind == b"$":
            if rest == b"-1":
                return None
            return self.read(int(rest) + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise AssertionError(f"bad reply {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def closed(self) -> bool:
        self.sock.settimeout(5)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except OSError:
            return True


@pytest.fixture
def cpa():
    with FakeCPA() as fake:
        yield fake


def authed(cpa) -> Client:
    client = Client(cpa)
    assert client.call("AUTH", cpa.key) == b"+OK"
    return client


def test_auth_forms_and_errors(cpa):
    assert Client(cpa).call("AUTH", "someone", cpa.key) == b"+OK"
    assert Client(cpa).call("AUTH", "wrong") == b"-ERR invalid management key"
    assert Client(cpa).call("AUTH", "") == b"-ERR missing management key"
    assert Client(cpa).call("AUTH") == b"-ERR wrong number of arguments for 'auth' command"
    assert cpa.auth_failures() == 3 and cpa.failed_attempts_total() == 3
    assert Client(cpa).call("AUTH", cpa.key) == b"+OK"
    assert cpa.auth_failures() == 0  # a success resets the count


def test_commands_before_auth_are_noauth_and_count(cpa):
    client = Client(cpa)
    assert client.call("HELLO", "3", "AUTH", "default", cpa.key) == b"-NOAUTH Authentication required."
    assert client.call("LPOP", "usage") == b"-NOAUTH Authentication required."
    assert cpa.auth_failures() == 2


def test_five_failures_ban_the_address_for_thirty_minutes(cpa):
    for _ in range(5):
        Client(cpa).call("AUTH", "wrong")
    reply = Client(cpa).call("AUTH", cpa.key)  # even the right key is refused now
    assert reply.startswith(b"-ERR IP banned due to too many failed attempts. Try again in 29m")
    assert cpa.is_banned() and cpa.failed_attempts_total() == 5
    cpa.set_ban_clock_offset(31 * 60)
    assert Client(cpa).call("AUTH", cpa.key) == b"+OK"


def test_http_and_resp_share_the_failure_count(cpa):
    for _ in range(4):
        Client(cpa).call("AUTH", "wrong")
    request = urllib.request.Request(cpa.url + "/v0/management/config", headers={"Authorization": "Bearer nope"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401 and json.loads(info.value.read()) == {"error": "invalid management key"}
    assert cpa.is_banned()


def test_go_duration_format():
    assert go_duration(1781) == "29m41s" and go_duration(59) == "59s" and go_duration(3700) == "1h1m40s"


def test_unknown_commands_after_auth(cpa):
    client = authed(cpa)
    for name in ("PING", "CLIENT", "SELECT", "INFO", "QUIT"):
        assert client.call(name) == f"-ERR unknown command '{name.lower()}'".encode()
    client.raw(b"*0\r\n")
    assert client.reply() == b"-ERR empty command"
    client.raw(b"PING\r\n")  # inline commands are not RESP arrays
    assert client.reply() == b"-ERR protocol error" and client.closed()


def test_lpop_forms_pop_the_oldest(cpa):
    for i in range(5):
        cpa.publish({"n": i})
    client = authed(cpa)
    assert client.call("LPOP", "usage") == b'{"n": 0}'
    assert client.call("RPOP", "usage") == b'{"n": 1}'  # RPOP pops the oldest too
    assert client.call("LPOP", "usage", 2) == [b'{"n": 2}', b'{"n": 3}']
    assert client.call("LPOP", "usage", 10) == [b'{"n": 4}']
    assert client.call("LPOP", "usage", 10) == []
    assert client.call("LPOP", "usage") is None
    assert client.call("LPOP", "usage", 0) == b"-ERR value is not an integer or out of range"
    assert client.call("LPOP", "usage", "x") == b"-ERR value is not an integer or out of range"
    assert client.call("LPOP") == b"-ERR wrong number of arguments for 'lpop' command"
    assert [bytes(p) for p in cpa.delivered] == [b'{"n": %d}' % i for i in range(5)]


def test_queue_name_strict_from_7_1_44():
    with FakeCPA(version="7.1.44") as new, FakeCPA(version="7.1.43") as old:
        assert authed(new).call("LPOP", "queue", 1) == b"-ERR unsupported channel 'queue'"
        assert authed(new).call("LPOP", "USAGE", 1) == []
        assert authed(old).call("LPOP", "queue", 1) == []


def test_retention_prunes_old_records():
    now = [1000.0]
    with FakeCPA(retention_seconds=60, clock=lambda: now[0]) as cpa:
        cpa.publish({"n": 1})
        now[0] += 30
        cpa.publish({"n": 2})
        now[0] += 31
        assert cpa.queue_len() == 1
        assert authed(cpa).call("LPOP", "usage", 10) == [b'{"n": 2}']


def test_subscribe_by_version():
    with FakeCPA(version="7.0.6") as old:
        assert authed(old).call("SUBSCRIBE", "usage") == b"-ERR unknown command 'subscribe'"
    with FakeCPA(version="7.1.38") as mid:
        client = authed(mid)
        assert client.call("SUBSCRIBE", "usage") == [b"subscribe", b"usage", b":1"]
        mid.publish({"n": 1})
        assert client.reply() == [b"message", b"usage", b'{"n": 1}']  # no support_refresh before 7.1.39
    with FakeCPA(version="7.1.39") as new:
        client = authed(new)
        assert client.call("SUBSCRIBE", "usage") == [b"subscribe", b"usage", b":1"]
        assert client.reply() == [b"message", b"usage", b'{"support_refresh":true}']


def test_subscribe_arguments(cpa):
    client = authed(cpa)
    assert client.call("SUBSCRIBE", "usage", "errors") == b"-ERR wrong number of arguments for 'subscribe' command"
    assert client.call("SUBSCRIBE", "other") == b"-ERR unsupported channel 'other'"


def test_subscriber_gets_records_and_the_queue_does_not(cpa):
    client = authed(cpa)
    client.call("SUBSCRIBE", "usage")
    client.reply()  # support_refresh
    cpa.publish({"n": 1})
    cpa.publish_refresh()
    assert client.reply() == [b"message", b"usage", b'{"n": 1}']
    assert client.reply() == [b"message", b"usage", b'{"refresh":true}']
    assert cpa.queue_len() == 0


def test_inside_a_subscription(cpa):
    client = authed(cpa)
    client.call("SUBSCRIBE", "usage")
    client.reply()
    assert client.call("PING") == [b"pong", None]  # nil, where Redis sends ""
    assert client.call("PING", "x") == [b"pong", b"x"]
    assert client.call("LPOP", "usage") == b"-ERR unknown command 'lpop'"
    assert client.call("UNSUBSCRIBE") == [b"unsubscribe", b"usage", b":0"]
    assert client.closed()
    wait_for(lambda: cpa.subscriber_count() == 0, what="the subscriber to go")
    cpa.publish({"n": 2})
    assert cpa.queue_len() == 1  # no subscriber: queued again


def test_a_subscriber_that_stops_reading_is_dropped_and_loses_records():
    with FakeCPA(subscriber_buffer=8) as cpa:
        client = authed(cpa)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.call("SUBSCRIBE", "usage")
        big = {"pad": "x" * 60000}
        for _ in range(400):  # fills the socket buffers, then the 8-message buffer
            cpa.publish(big)
            if cpa.dropped_subscribers:
                break
            time.sleep(0.001)
        assert cpa.dropped_subscribers == 1 and len(cpa.lost) >= 1
        assert cpa.subscriber_count() == 0
        assert client.closed()  # closed once the buffered messages are written


def test_stop_and_start_on_the_same_port(cpa):
    port = cpa.port
    cpa.publish({"n": 1})
    cpa.stop()
    with pytest.raises(OSError):
        socket.create_connection((cpa.host, port), timeout=1)
    cpa.start()
    assert cpa.port == port and cpa.queue_len() == 0  # a restart loses the queue
    assert authed(cpa).call("LPOP", "usage", 1) == []


def test_home_mode_and_management_disabled():
    with FakeCPA(home_mode=True) as home:
        client = Client(home)
        client.send("AUTH", home.key)
        assert client.reply() == b"-ERR redis usage output disabled in home mode" and client.closed()
    with FakeCPA(management_enabled=False) as off:
        client = Client(off)
        client.send("AUTH", off.key)
        assert client.closed()


def get(cpa, path, **headers):
    request = urllib.request.Request(cpa.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_http_on_the_same_port(cpa):
    assert get(cpa, "/healthz")[2] == {"status": "ok"}
    status, headers, body = get(cpa, "/v0/management/usage-statistics-enabled", Authorization=f"Bearer {cpa.key}")
    assert status == 200 and body == {"usage-statistics-enabled": True} and headers["X-CPA-VERSION"] == "7.2.140"
    assert get(cpa, "/v0/management/api-keys", **{"X-Management-Key": cpa.key})[2] == {
        "api-keys": ["test-client-key-1"]}
    assert get(cpa, "/v0/management/auth-files")[0] == 401  # no key: counted
    assert cpa.auth_failures() == 1


def test_http_usage_queue_pops_the_same_queue(cpa):
    cpa.publish({"n": 1})
    cpa.publish({"n": 2})
    status, _, body = get(cpa, "/v0/management/usage-queue?count=5", Authorization=f"Bearer {cpa.key}")
    assert status == 200 and body == [{"n": 1}, {"n": 2}] and cpa.queue_len() == 0
    assert get(cpa, "/v0/management/usage-queue?count=0", Authorization=f"Bearer {cpa.key}")[0] == 400


def test_models_need_a_client_key(cpa):
    assert get(cpa, "/v1/models")[0] == 401
    status, _, body = get(cpa, "/v1/models", Authorization="Bearer test-client-key-1")
    assert status == 200 and body["object"] == "list" and body["data"][0]["id"] == "gpt-5.4"


def test_disabled_statistics_drop_every_record(cpa):
    cpa.usage_statistics_enabled = False
    cpa.publish({"n": 1})
    assert cpa.queue_len() == 0
