"""A fake CLIProxyAPI for tests: RESP and HTTP on ONE port, as CPA serves them.

Faithful to what CPA's source shows (see shared/cpa/protocol.md and research-notes.md;
section numbers below refer to the notes), including the parts that lose data or ban:

* One listener; the first byte of a connection picks the protocol: ``* $ + - :`` is
  RESP, anything else HTTP (§1.1).
* RESP subset (§1.3): AUTH with one or two arguments; any other command before AUTH
  answers NOAUTH and counts as a failed login; LPOP/RPOP pop the OLDEST records, with
  a count as an array (``*0`` when empty), without as a bulk or nil; SUBSCRIBE from
  v7.0.7 with one channel, ``{"support_refresh":true}`` first from v7.1.39; inside a
  subscription only PING (pong with a nil), UNSUBSCRIBE (reply, then close) and QUIT;
  everything else is ``-ERR unknown command '<name>'``.
* The queue (§1.5): in memory, records older than the retention are pruned on every
  enqueue and pop; while a usage subscriber exists, records go only to subscribers;
  each subscriber has a 256-message buffer drained by its own writer thread, and a
  subscriber whose buffer is full is dropped: the record is lost for it and the
  connection closes after the buffered messages.
* Management key checks shared by RESP and HTTP (§2): 5 failures from one IP ban it
  for 30 minutes; success resets the count.
* HTTP management endpoints and /v1/models (§5) with settable answers.

Every RESP command and HTTP request is recorded, so tests can prove what a client sent.
"""

from __future__ import annotations

import collections
import http.server
import json
import queue
import socket
import threading
import time
import urllib.parse
from typing import Any, Callable, NamedTuple

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
BANNED = "IP banned due to too many failed attempts. Try again in {}"


class CommandRecord(NamedTuple):
    conn_id: int
    peer_ip: str
    args: list
    at: float


class HttpRecord(NamedTuple):
    method: str
    path: str
    headers: dict
    body: bytes
    peer_ip: str


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def go_duration(seconds: float) -> str:
    """Go's time.Duration text for whole seconds, as in CPA's ban message (29m41s)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def bulk(data: bytes | None) -> bytes:
    return b"$-1\r\n" if data is None else b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: list[bytes | None]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(bulk(item) for item in items)


class ProtocolError(Exception):
    pass


class _Subscriber:
    """One subscribed connection: a bounded buffer and a writer thread, like CPA's
    buffered Go channel and the goroutine that copies it to the socket."""

    def __init__(self, cpa: "FakeCPA", conn: "_Connection", channel: str, sent_name: bytes):
        self.cpa, self.conn, self.channel, self.sent_name = cpa, conn, channel, sent_name
        self.buffer: queue.Queue = queue.Queue(maxsize=cpa.subscriber_buffer)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def offer(self, payload: bytes) -> bool:
        try:
            self.buffer.put_nowait(payload)
            return True
        except queue.Full:
            return False

    def finish(self) -> None:
        """No more messages: flush what is buffered, then let the writer end."""
        while True:
            try:
                self.buffer.put(None, timeout=0.1)
                return
            except queue.Full:
                if self.conn.closed.is_set():
                    return

    def _write(self) -> None:
        try:
            while True:
                payload = self.buffer.get()
                if payload is None:
                    return
                while self.cpa._frozen.is_set() and not self.conn.closed.is_set():
                    time.sleep(0.01)
                self.conn.send(array([b"message", self.sent_name, payload]))
                if self.channel == "usage" and payload not in CONTROL_PAYLOADS:
                    with self.cpa._lock:
                        self.cpa.delivered.append(payload)
        except OSError:
            pass
        finally:
            self.done.set()


CONTROL_PAYLOADS = (b'{"support_refresh":true}', b'{"refresh":true}')


class _Connection:
    """One accepted TCP connection, RESP or HTTP."""

    def __init__(self, cpa: "FakeCPA", sock: socket.socket, peer: tuple, conn_id: int):
        self.cpa, self.sock, self.peer_ip, self.conn_id = cpa, sock, peer[0], conn_id
        self.closed = threading.Event()
        self._send_lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class FakeCPA:
    """See the module docstring. Start with ``start()`` or use as a context manager."""

    def __init__(self, *, key: str = "test-mgmt-key", version: str = "7.2.140", host: str = "127.0.0.1",
                 port: int = 0, retention_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 subscriber_buffer: int = 256, usage_statistics_enabled: bool = True,
                 client_keys: tuple[str, ...] = ("test-client-key-1",), home_mode: bool = False,
                 management_enabled: bool = True, allow_remote: bool = False):
        self.key, self.version, self.host, self.port = key, version, host, port
        self.retention_seconds, self.clock = retention_seconds, clock
        self.subscriber_buffer = subscriber_buffer
        self.usage_statistics_enabled = usage_statistics_enabled
        self.client_keys = list(client_keys)
        self.home_mode, self.management_enabled, self.allow_remote = home_mode, management_enabled, allow_remote
        self.commands: list[CommandRecord] = []
        self.http_requests: list[HttpRecord] = []
        self.delivered: list[bytes] = []
        self.lost: list[bytes] = []
        self.dropped_subscribers = 0
        self.auth_files = [
            {"id": "codex-alice@example.com.json", "auth_index": "3f9a1c0e7b2d4a61", "name": "codex-alice@example.com.json",
             "type": "codex", "provider": "codex", "label": "alice@example.com", "email": "alice@example.com",
             "status": "active", "status_message": "", "disabled": False, "unavailable": False,
             "runtime_only": False, "source": "file", "account_type": "oauth"},
            {"id": "claude-bob@example.org.json", "auth_index": "a05d9e33c18f2b70", "name": "claude-bob@example.org.json",
             "type": "claude", "provider": "claude", "label": "bob@example.org", "email": "bob@example.org",
             "status": "active", "status_message": "", "disabled": False, "unavailable": False,
             "runtime_only": False, "source": "file", "account_type": "oauth"},
        ]
        self.provider_keys: dict[str, list] = {
            "gemini-api-key": [{"api-key": "AIzaSyFAKE-gemini-key-0001", "prefix": "", "auth-index": "6be21f04d9a3c857"}],
            "claude-api-key": [{"api-key": "sk-ant-api03-FAKE-claude-key-xyz", "auth-index": "0e4d7b2a9c13f588"}],
            "codex-api-key": [], "vertex-api-key": [], "xai-api-key": [], "interactions-api-key": [],
        }
        self.openai_compatibility = [
            {"name": "openrouter", "base-url": "https://openrouter.ai/api/v1", "disabled": False,
             "api-key-entries": [{"api-key": "sk-or-v1-FAKE0000000000000000000000000000b780",
                                  "auth-index": "c7d3e91a20b4f6e5"}],
             "models": [{"name": "moonshotai/kimi-k2:free", "alias": "kimi-k2"}]},
        ]
        self.models = [{"id": "gpt-5.4", "object": "model", "created": 1760000000, "owned_by": "openai"},
                       {"id": "claude-sonnet-4-5", "object": "model", "created": 1760000000, "owned_by": "anthropic"},
                       {"id": "gemini-2.5-pro", "object": "model", "created": 1760000000, "owned_by": "google"}]
        self._lock = threading.RLock()
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._subscribers: list[_Subscriber] = []
        self._connections: list[_Connection] = []
        self._failures: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}
        self._failed_total = 0
        self._ban_offset = 0.0
        self._frozen = threading.Event()
        self._next_conn_id = 0
        self._listener: socket.socket | None = None

    # -- lifecycle -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeCPA":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """CPA goes down: the listener and every connection close; the queue is gone."""
        listener, self._listener = self._listener, None
        if listener:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the listener thread
            except OSError:
                pass
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
            self._subscribers.clear()
            self._queue.clear()
        for conn in connections:
            conn.close()

    def __enter__(self) -> "FakeCPA":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, peer = listener.accept()
            except OSError:
                return
            with self._lock:
                if self._listener is not listener:
                    sock.close()
                    return
                self._next_conn_id += 1
                conn = _Connection(self, sock, peer, self._next_conn_id)
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: _Connection) -> None:
        try:
            conn.sock.settimeout(10)  # CPA: 10 s to send the first byte
            first = conn.sock.recv(1, socket.MSG_PEEK)
            conn.sock.settimeout(None)
            if not first:
                return
            if first in b"*$+-:":
                self._serve_resp(conn)
            else:
                _HttpHandler(conn.sock, (conn.peer_ip, 0), self)
        except (OSError, ProtocolError):
            pass
        finally:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s.conn is not conn]
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()

    # -- the queue -------------------------------------------------------------

    def publish(self, payload: bytes | str | dict) -> None:
        """CPA's Enqueue: to every usage subscriber if there is one, else into the queue."""
        if not self.usage_statistics_enabled:
            return
        data = self._bytes(payload)
        with self._lock:
            self._prune()
            subscribers = [s for s in self._subscribers if s.channel == "usage"]
            if not subscribers:
                self._queue.append((self.clock(), data))
                return
            for subscriber in subscribers:
                if not subscriber.offer(data):
                    self._drop(subscriber)
                    self.lost.append(data)

    def publish_refresh(self) -> None:
        with self._lock:
            for subscriber in [s for s in self._subscribers if s.channel == "usage"]:
                if not subscriber.offer(CONTROL_PAYLOADS[1]):
                    self._drop(subscriber)

    def publish_error(self, payload: bytes | str | dict) -> None:
        data = self._bytes(payload)
        with self._lock:
            for subscriber in [s for s in self._subscribers if s.channel == "errors"]:
                if not subscriber.offer(data):
                    self._drop(subscriber)

    def queue_len(self) -> int:
        with self._lock:
            self._prune()
            return len(self._queue)

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(1 for s in self._subscribers if s.channel == "usage")

    def freeze_subscribers(self, frozen: bool = True) -> None:
        if frozen:
            self._frozen.set()
        else:
            self._frozen.clear()

    @staticmethod
    def _bytes(payload: bytes | str | dict) -> bytes:
        if isinstance(payload, dict):
            return json.dumps(payload).encode()
        return payload.encode() if isinstance(payload, str) else bytes(payload)

    def _prune(self) -> None:
        cutoff = self.clock() - self.retention_seconds
        while self._queue and self._queue[0][0] < cutoff:  # oldest first: stop at the first young one
            self._queue.popleft()

    def _pop(self, count: int) -> list[bytes]:
        with self._lock:
            self._prune()
            popped = [self._queue.popleft()[1] for _ in range(min(count, len(self._queue)))]
            self.delivered.extend(popped)
            return popped

    def _drop(self, subscriber: _Subscriber) -> None:
        """A full buffer: CPA closes the subscriber's channel; the connection ends after
        the messages already buffered are written."""
        self._subscribers.remove(subscriber)
        self.dropped_subscribers += 1
        threading.Thread(target=self._close_after_flush, args=(subscriber,), daemon=True).start()

    @staticmethod
    def _close_after_flush(subscriber: _Subscriber) -> None:
        subscriber.finish()
        subscriber.done.wait(10)
        subscriber.conn.close()

    # -- the management key ------------------------------------------------------

    def _ban_clock(self) -> float:
        return time.monotonic() + self._ban_offset

    def set_ban_clock_offset(self, seconds: float) -> None:
        self._ban_offset = seconds

    def _ban_message(self, ip: str) -> str | None:
        with self._lock:
            until = self._banned_until.get(ip)
            if until is None:
                return None
            remaining = until - self._ban_clock()
            if remaining <= 0:
                del self._banned_until[ip]
                return None
            return BANNED.format(go_duration(remaining))

    def _count_failure(self, ip: str) -> None:
        with self._lock:
            self._failed_total += 1
            self._failures[ip] = self._failures.get(ip, 0) + 1
            if self._failures[ip] >= MAX_FAILURES:
                self._failures[ip] = 0
                self._banned_until[ip] = self._ban_clock() + BAN_SECONDS

    def _check_key(self, ip: str, key: str | None) -> tuple[int, str | None]:
        """CPA's AuthenticateManagementKey: (HTTP status, error) with the failure counting."""
        banned = self._ban_message(ip)
        if banned:
            return 403, banned
        if ip not in ("127.0.0.1", "::1") and not self.allow_remote:
            return 403, "remote management disabled"
        if not key:
            self._count_failure(ip)
            return 401, "missing management key"
        if key != self.key:
            self._count_failure(ip)
            return 401, "invalid management key"
        with self._lock:
            self._failures[ip] = 0
        return 200, None

    def auth_failures(self, ip: str = "127.0.0.1") -> int:
        with self._lock:
            return self._failures.get(ip, 0)

    def failed_attempts_total(self) -> int:
        with self._lock:
            return self._failed_total

    def is_banned(self, ip: str = "127.0.0.1") -> bool:
        return self._ban_message(ip) is not None

    def reset_bans(self) -> None:
        with self._lock:
            self._failures.clear()
            self._banned_until.clear()

    # -- RESP ----------------------------------------------------------------------

    def _serve_resp(self, conn: _Connection) -> None:
        if self.home_mode:
            conn.send(b"-ERR redis usage output disabled in home mode\r\n")
            return
        reader = conn.sock.makefile("rb")
        authed = False
        while True:
            if not self.management_enabled:
                return  # CPA closes RESP connections silently then
            try:
                args = self._read_command(reader)
            except ProtocolError:
                conn.send(b"-ERR protocol error\r\n")
                return
            if args is None:
                return
            with self._lock:
                self.commands.append(CommandRecord(conn.conn_id, conn.peer_ip, args, time.monotonic()))
            if not args:
                conn.send(b"-ERR empty command\r\n")
                continue
            name = args[0].decode("utf-8", "replace").lower()
            if name == "auth":
                authed = self._resp_auth(conn, args) or authed
                continue
            if not authed:
                banned = self._ban_message(conn.peer_ip)
                if banned:
                    conn.send(f"-ERR {banned}\r\n".encode())
                else:
                    self._count_failure(conn.peer_ip)
                    conn.send(b"-NOAUTH Authentication required.\r\n")
                continue
            if name in ("lpop", "rpop"):
                conn.send(self._resp_pop(name, args))
            elif name == "subscribe" and version_tuple(self.version) >= (7, 0, 7):
                if self._resp_subscribe(conn, reader, args):
                    return
            else:
                conn.send(f"-ERR unknown command '{name}'\r\n".encode())

    @staticmethod
    def _read_command(reader: Any) -> list[bytes] | None:
        line = reader.readline()
        if not line:
            return None
        if not line.endswith(b"\r\n") or line[:1] != b"*":
            raise ProtocolError()
        try:
            count = int(line[1:-2])
        except ValueError:
            raise ProtocolError() from None
        args = []
        for _ in range(count):
            header = reader.readline()
            if header[:1] == b"$":
                try:
                    length = int(header[1:-2])
                except ValueError:
                    raise ProtocolError() from None
                data = reader.read(length + 2)
                if len(data) != length + 2 or data[-2:] != b"\r\n":
                    raise ProtocolError()
                args.append(data[:-2])
            elif header[:1] in (b"+", b":"):
                args.append(header[1:-2])
            else:
                raise ProtocolError()
        return args

    def _resp_auth(self, conn: _Connection, args: list[bytes]) -> bool:
        if len(args) not in (2, 3):
            banned = self._ban_message(conn.peer_ip)
            if banned:
                conn.send(f"-ERR {banned}\r\n".encode())
            else:
                self._count_failure(conn.peer_ip)
                conn.send(b"-ERR wrong number of arguments for 'auth' command\r\n")
            return False
        status, error = self._check_key(conn.peer_ip, args[-1].decode("utf-8", "replace"))
        if error:
            conn.send(f"-ERR {error}\r\n".encode())
            return False
        conn.send(b"+OK\r\n")
        return True

    def _resp_pop(self, name: str, args: list[bytes]) -> bytes:
        if len(args) not in (2, 3):
            return f"-ERR wrong number of arguments for '{name}' command\r\n".encode()
        channel = args[1].decode("utf-8", "replace")
        if version_tuple(self.version) >= (7, 1, 44) and channel.strip().lower() != "usage":
            return f"-ERR unsupported channel '{channel}'\r\n".encode()
        if len(args) == 2:
            popped = self._pop(1)
            return bulk(popped[0] if popped else None)
        try:
            count = int(args[2])
        except ValueError:
            count = 0
        if count <= 0:
            return b"-ERR value is not an integer or out of range\r\n"
        return array(self._pop(count))

    def _resp_subscribe(self, conn: _Connection, reader: Any, args: list[bytes]) -> bool:
        """Answer SUBSCRIBE; on success serve the subscription and return True (closed)."""
        if len(args) != 2:
            conn.send(b"-ERR wrong number of arguments for 'subscribe' command\r\n")
            return False
        sent_name = args[1].strip()
        channel = sent_name.decode("utf-8", "replace").lower()
        allowed = ("usage", "errors") if version_tuple(self.version) >= (7, 1, 44) else ("usage",)
        if channel not in allowed:
            conn.send(f"-ERR unsupported channel '{args[1].decode('utf-8', 'replace')}'\r\n".encode())
            return False
        subscriber = _Subscriber(self, conn, channel, sent_name)
        with self._lock:  # registered before the acknowledgement, and the first message after it
            self._subscribers.append(subscriber)
            conn.send(b"*3\r\n" + bulk(b"subscribe") + bulk(sent_name) + b":1\r\n")
            if channel == "usage" and version_tuple(self.version) >= (7, 1, 39):
                subscriber.offer(CONTROL_PAYLOADS[0])
        while True:
            command = self._read_command(reader)
            if command is None:
                return True
            with self._lock:
                self.commands.append(CommandRecord(conn.conn_id, conn.peer_ip, command, time.monotonic()))
            name = command[0].decode("utf-8", "replace").lower() if command else ""
            if name == "ping":
                if not self._frozen.is_set():
                    conn.send(array([b"pong", command[1] if len(command) > 1 else None]))
            elif name == "unsubscribe":
                with self._lock:
                    if subscriber in self._subscribers:
                        self._subscribers.remove(subscriber)
                subscriber.finish()
                subscriber.done.wait(10)
                conn.send(b"*3\r\n" + bulk(b"unsubscribe") + bulk(sent_name) + b":0\r\n")
                return True
            elif name == "quit":
                conn.send(b"+OK\r\n")
                return True
            else:
                conn.send(f"-ERR unknown command '{name}'\r\n".encode())

    # -- HTTP ------------------------------------------------------------------------

    def _management(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, Any]:
        name = path[len("/v0/management/"):]
        if name == "usage-statistics-enabled":
            if method in ("PUT", "PATCH"):
                try:
                    value = json.loads(body or b"{}").get("value")
                except ValueError:
                    value = None
                if not isinstance(value, bool):
                    return 400, {"error": "invalid body"}
                self.usage_statistics_enabled = value
                return 200, {"status": "ok"}
            return 200, {"usage-statistics-enabled": self.usage_statistics_enabled}
        if method != "GET":
            return 404, {"error": "not found"}
        if name == "auth-files":
            return 200, {"files": self.auth_files}
        if name == "api-keys":
            return 200, {"api-keys": self.client_keys}
        if name in self.provider_keys:
            return 200, {name: self.provider_keys[name]}
        if name == "openai-compatibility":
            return 200, {"openai-compatibility": self.openai_compatibility}
        if name == "config":
            return 200, {"usage-statistics-enabled": self.usage_statistics_enabled,
                         "redis-usage-queue-retention-seconds": int(self.retention_seconds)}
        if name == "usage-queue" and version_tuple(self.version) >= (6, 10, 8):
            try:
                count = int(query.get("count", ["1"])[0])
            except ValueError:
                count = 0
            if count <= 0:
                return 400, {"error": "count must be a positive integer"}
            return 200, [json.loads(item) for item in self._pop(count)]
        return 404, {"error": "not found"}


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    """HTTP on the shared port: /healthz, /v0/management/*, /v1/models."""

    protocol_version = "HTTP/1.1"
    server: FakeCPA

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, management: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if management:
            self.send_header("X-CPA-VERSION", self.server.version)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        cpa = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        peer = self.client_address[0]
        with cpa._lock:
            cpa.http_requests.append(HttpRecord(self.command, url.path, dict(self.headers.items()), body, peer))
        if url.path == "/healthz":
            return self._answer(200, {"status": "ok"})
        if url.path.startswith("/v0/management/"):
            if not cpa.management_enabled or cpa.home_mode:
                return self._answer(404, {"error": "not found"})
            authorization = self.headers.get("Authorization")
            if authorization is not None:
                key = authorization[7:] if authorization.startswith("Bearer ") else authorization
            else:
                key = self.headers.get("X-Management-Key")
            status, error = cpa._check_key(peer, key)
            if error:
                return self._answer(status, {"error": error}, management=True)
            status, answer = cpa._management(self.command, url.path, urllib.parse.parse_qs(url.query), body)
            return self._answer(status, answer, management=True)
        if url.path == "/v1/models" and self.command == "GET":
            query = urllib.parse.parse_qs(url.query)
            given = (self.headers.get("Authorization", "").removeprefix("Bearer ") or self.headers.get("X-Api-Key")
                     or query.get("key", [""])[0])
            if cpa.client_keys and given not in cpa.client_keys:
                return self._answer(401, {"error": "Invalid API key"})
            return self._answer(200, {"object": "list", "data": cpa.models})
        return self._answer(404, {"error": "not found"})

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _handle
