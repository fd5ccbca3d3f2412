"""A fake CLIProxyAPI (CPA) for tests: RESP and HTTP on ONE TCP port, as CPA serves them.

What is faithful, and where it comes from. "Notes" is /work/shared/cpa/research-notes.md,
"protocol" is protocol.md beside it, "v8" is v8.md beside it (CPA v7.3/v8, known from
router-for-me/CLIProxyAPIDocs docs/en/management/apiv8.md, not from source); the Go files
named are in router-for-me/CLIProxyAPI (v7.2.140), read to settle details the notes leave open.

* One listener; each connection's first byte picks the protocol: ``* $ + - :`` is RESP,
  anything else HTTP, served by http.server on that same socket (notes §1.1,
  protocol_multiplexer.go). A RESP connection that starts with ``$ + - :`` is routed to
  RESP and then refused with ``-ERR protocol error`` (only arrays are commands). Versions
  before 6.9.38 had no RESP at all: everything goes to HTTP. So does every connection when
  ``resp_enabled`` is off, a CPA whose RESP output is off (v8: "possibly off", unverified
  either way): RESP bytes are then a malformed HTTP request, answered as Go's net/http does
  (``HTTP/1.1 400 Bad Request``, then close), and no key failure is counted.
* The RESP subset, reply for reply (notes §1.3, redis_queue_protocol.go): arrays of bulk
  (or simple/integer) strings, lines ending in CRLF or a bare LF; ``*0`` -> ``-ERR empty
  command``; malformed -> ``-ERR protocol error`` then close (a bulk cut short by EOF ->
  ``-ERR unexpected EOF``); names case-insensitive and trimmed; ``AUTH [user] key``; any
  other command before AUTH -> NOAUTH, counted as a failed login; LPOP/RPOP pop the OLDEST
  record(s): bulk or ``$-1`` without a count, array (``*0`` when empty) with one; the
  argument checks run in CPA's order (arity, count, then queue name); the queue name must
  be ``usage`` from 7.1.44 and is ignored before; SUBSCRIBE from 7.0.7, one channel,
  ``errors`` from 7.1.44; the subscribe/message frames name the channel as sent (trimmed)
  from 7.1.44 and ``usage`` before; inside a subscription PING -> ``pong`` + nil (or the
  argument), UNSUBSCRIBE -> reply then close, QUIT -> ``+OK`` then close, anything else
  ``-ERR unknown command '<name>'`` and the subscription goes on. Home mode and the
  v7.1.17 "RESP disabled" build refuse RESP; with management disabled a RESP connection
  is closed without a reply before its next command is read.
* The queue (notes §1.5, redisqueue/queue.go): in memory; an item older than the retention
  (strictly before now - retention, measured with the injected ``clock``) is pruned on every
  enqueue and pop; no count limit. While a ``usage`` subscriber exists a record goes to
  every subscriber and is never queued. A subscriber is CPA's buffered Go channel
  (``subscriber_buffer`` slots; ``{"support_refresh":true}`` takes the first one from
  7.1.39) drained by one writer thread that blocks on the socket, so a consumer that stops
  reading fills the TCP buffers, then the channel, then is dropped: the record that did not
  fit is lost, the buffered ones are still written, then the connection closes. When a
  subscription ends any other way (UNSUBSCRIBE, QUIT, client gone, stop()) what is still
  buffered is never written (CPA's handler returns and its channel is dropped).
  ``{"refresh":true}`` (from 7.1.39) and ``errors`` events go to subscribers only.
  Records are dropped when ``usage_statistics_enabled`` is false (the plugin does not
  publish) or management is disabled (the queue is disabled). Retention as CPA normalises
  it: <= 0 means 60 s, more than 3600 is clamped, and before 6.10.1 it is fixed at 60 s.
* Management key (notes §2, management/handler.go AuthenticateManagementKey), one
  counter per client IP shared by RESP and HTTP: a missing or wrong key counts; the 5th
  failure bans the IP for 30 minutes and resets the count; while banned even the right
  key gets ``IP banned due to too many failed attempts. Try again in <d>`` (the remaining
  time rounded to the second, Go duration text: ``30m0s`` right after the ban); a success
  resets the count; a remote client (not 127.0.0.1/::1) is refused, uncounted, unless
  ``allow_remote``. HTTP takes ``Authorization`` (``Bearer <key>``, case-insensitive scheme,
  or the whole value) else ``X-Management-Key``; HTTP's client IP is gin's ClientIP, which
  believes ``X-Forwarded-For``/``X-Real-IP`` (gin trusts every proxy by default). A restart
  (stop/start) clears the counters and bans, as CPA keeps them in memory.
* HTTP (notes §5): ``/healthz``; management routes under ``/v0/management`` with the
  ``X-CPA-*`` headers on every answer that passed the availability check (even 401/403);
  404 with an empty body when management is disabled or in home mode; routes this fake
  does not model answer like unknown routes: from 7.1.47 after the key check (counted),
  before that gin's plain ``404 page not found`` without one. ``/usage-queue`` (6.10.8+)
  pops the same FIFO and writes each record the way Go's encoder re-emits a
  json.RawMessage: compacted, with ``< > &`` escaped. ``/v1/models`` needs a client key
  (Authorization Bearer, X-Goog-Api-Key, X-Api-Key, ?key=, ?auth_token=) unless
  ``client_keys`` is empty; 401 ``Missing API key`` / ``Invalid API key``; template keys
  ``your-api-key-1/2/3`` put the proxy routes in safe mode (403). JSON bodies are
  compact, like Go's. HTTP/1.1 keep-alive: one connection carries many requests, each
  recorded with the ``conn_id`` of its connection; TCP_NODELAY is set, as Go sets it on
  every TCP connection. The v0 provider key lists exist by version
  (``V0_PROVIDER_LIST_SINCE``): ``/interactions-api-key`` from 7.2.51 and ``/xai-api-key``
  from 7.2.73 (the tags that first register them in internal/api/server.go),
  ``/meta-api-key`` only where the v8 API is (unverified); before that they are unknown
  routes, and absent from ``/config``. ``v0_api=False`` models v0 removed (v8 calls it
  "near deprecation"; no release is known to remove it): every ``/v0/`` path is an
  unknown route.
* The v8 management API (v8; from 8.0.0, or as the ``v8_api`` knob forces it) under
  ``/v8/management``, behind the same availability check, key check, failure count and
  ``X-CPA-*`` headers as v0 (v8: "same key, same headers ... same 404"). ``/credentials``
  is v0's auth-files list as it is (a superset of the fields apiv8.md shows); ``/config``
  is a v8-layout document (``observability.usage.*``, ``access.api-keys``,
  ``api-keys.<provider>``, a few routing/requests/logs keys from the apiv8.md examples)
  and ``/config/<a>/<b>/...`` walks it by mapping keys, a missing node 404
  ``{"error":"not_found"}``; config reads send ``Cache-Control: no-store`` (apiv8.md).
  ``api-keys.<provider>`` is a list of groups ``{name, base-url, keys: [{api-key, weight}]}``
  built from the v0 lists, one group per v0 entry (name: the entry's or ``<provider>-<n>``);
  a provider with no entries has no node, so 404 (inferred: v8 reads the YAML tree). The
  ``auth-index`` on each key is unverified (``v8_key_auth_index`` turns it off).
  ``PUT``/``PATCH /config/observability/usage/usage-statistics-enabled`` takes the raw JSON
  boolean and answers ``{"status":"ok","config-version":8}``; a ``{"value": ...}``
  envelope or any non-boolean is 400 ``{"error":"invalid_config","message":...}`` (the
  message text is the fake's own). ``/observability/usage/queue`` pops the same FIFO as
  LPOP and v0 ``/usage-queue``, with the same encoding and errors. Every other path under
  ``/v8/management`` is 404 ``{"error":"not_found"}`` after the key check (apiv8.md's
  shape for a missing config path; unverified for unknown routes). Without the v8 API,
  ``/v8/...`` is an unknown route (no key check, no headers).

Not modelled: TLS (tests/fake_proxy.py's ReverseProxy terminates it in front of the fake),
the hourly purge of idle failure counters, write-side management routes other than
usage-statistics-enabled (v0 and v8), v8's ``server.trusted-proxies`` (the fake believes
X-Forwarded-For as v7 does), the other v8 routes (logs, quota, OAuth, ``/config.yaml``),
fields of a v8 key group beyond name/base-url/keys (prefix, models and headers of the
non-compat providers), the Anthropic/Gemini model-list formats.

Every RESP command and HTTP request is recorded (``commands``, ``http_requests``), and
every usage record that leaves the fake is in ``delivered``, so tests can prove what a
client sent and what it was given. ``lost`` holds records lost to a full subscriber
buffer; ``discarded`` (an addition) records that were in a subscriber's buffer when its
subscription ended otherwise and so were never written.

Test knobs that CPA does not have: ``freeze_subscribers()`` (a half-open path),
``ban_clock``/``set_ban_clock_offset()`` (expire or measure a ban without waiting),
``reset_bans()``, setting ``management_enabled``/``usage_statistics_enabled``/
``retention_seconds`` at run time (CPA hot-reloads all three), ``subscriber_count("errors")``
and ``at_least(7, 1, 44)``. ``v8_api``, ``v8_key_auth_index``, ``v0_api`` and
``resp_enabled`` pick which CPA is modelled where v8 leaves it open; they too may be changed
at run time.
"""

from __future__ import annotations

import collections
import http.server
import ipaddress
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple, Self

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
BAN_MESSAGE = "IP banned due to too many failed attempts. Try again in "
RESP_PREFIXES = b"*$+-:"
SUPPORT_REFRESH = b'{"support_refresh":true}'
REFRESH = b'{"refresh":true}'
TEMPLATE_CLIENT_KEYS = {"your-api-key-1", "your-api-key-2", "your-api-key-3"}
PROXY_PATH_PREFIXES = ("/v1", "/v1beta", "/openai/v1", "/backend-api/codex")
# The first version whose v0 management API serves each provider key list; before it the
# route is unknown. None: only a CPA with the v8 API (unverified: v8.md names ``meta`` as a new
# provider family, nothing says when, or whether, v0 got its list). The two versions are the
# tags that first register the routes in internal/api/server.go. Lists not named: always there.
V0_PROVIDER_LIST_SINCE: dict[str, tuple[int, ...] | None] = {
    "interactions-api-key": (7, 2, 51),
    "xai-api-key": (7, 2, 73),
    "meta-api-key": None,
}
V8_USAGE_STATISTICS_PATH = ["observability", "usage", "usage-statistics-enabled"]
V8_NOT_FOUND = {"error": "not_found"}


class CommandRecord(NamedTuple):
    conn_id: int
    peer_ip: str
    args: list  # list[bytes], exactly as received
    at: float  # time.monotonic() when it was read


class HttpRecord(NamedTuple):
    method: str
    path: str  # with the query string
    headers: dict
    body: bytes
    peer_ip: str  # the TCP peer (not the X-Forwarded-For address CPA believes)
    conn_id: int = 0  # the TCP connection it came on: equal ids prove a kept-alive connection


# -- small helpers, Go semantics -------------------------------------------------------


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.strip().lstrip("v").split("."))


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` of a duration already rounded to whole seconds."""
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def go_round_seconds(seconds: float) -> int:
    """``Duration.Round(time.Second)``: to the nearest second, halves away from zero."""
    whole = int(abs(seconds) + 0.5)
    return whole if seconds >= 0 else -whole


_GO_INT = re.compile(rb"[+-]?[0-9]+\Z")


def go_atoi(raw: bytes) -> int | None:
    """``strconv.Atoi``: optional sign, decimal digits, int64 range; None when it fails."""
    if not _GO_INT.match(raw):
        return None
    value = int(raw)
    return value if -(2**63) <= value < 2**63 else None


def go_json(value: Any) -> bytes:
    """What gin's ``c.JSON`` writes: compact JSON with ``< > &`` and U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


_JSON_STRING = re.compile(rb'("(?:[^"\\]|\\.)*")', re.DOTALL)
_GO_HTML_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
                    ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def go_compact_raw(raw: bytes) -> bytes:
    """How encoding/json re-emits a valid json.RawMessage: whitespace outside strings
    removed, ``< > &`` and U+2028/9 inside strings escaped; bytes otherwise untouched.
    (Split at the strings by a regular expression: a loop over every byte made the fake,
    not the client, the bottleneck of the HTTP queue.)"""
    parts = _JSON_STRING.split(raw)  # the odd parts are the strings
    parts[0::2] = [part.translate(None, b" \t\r\n") for part in parts[0::2]]
    if any(char in raw for char, _ in _GO_HTML_ESCAPES):
        strings = parts[1::2]
        for char, escaped in _GO_HTML_ESCAPES:
            strings = [string.replace(char, escaped) for string in strings]
        parts[1::2] = strings
    return b"".join(parts)


def usage_queue_item(payload: bytes) -> bytes:
    """One element of GET /usage-queue (management/usage.go usageQueueRecord): the record
    itself when it is valid JSON, else the payload as a JSON string. (Go's scanner takes
    nesting up to 10,000 levels, where Python's parser gives up near 1,000: deeper than
    Python goes is taken as valid, as Go takes it.)"""
    try:
        json.loads(payload)
    except RecursionError:
        pass
    except ValueError:
        return go_json(payload.decode("utf-8", "replace"))
    return go_compact_raw(payload)


def normalize_ip(ip: str) -> str:
    """CPA compares IPs as Go prints them: IPv4-mapped IPv6 addresses become IPv4."""
    ip = ip.strip().split("%", 1)[0]
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def bulk(data: bytes | None) -> bytes:
    return b"$-1\r\n" if data is None else b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: list) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(bulk(item) for item in items)


def error(message: str | bytes) -> bytes:
    return b"-" + (message.encode() if isinstance(message, str) else message) + b"\r\n"


class ProtocolError(Exception):
    """Malformed RESP: CPA answers ``-ERR protocol error`` and closes."""


class UnexpectedEOF(Exception):
    """A bulk string cut short: Go's io.ErrUnexpectedEOF, answered ``-ERR unexpected EOF``."""


class _EOF(Exception):
    """The peer closed while a command was being read: CPA closes without a reply."""


def _read_line(reader: Any) -> bytes:
    """``readRESPLine``: up to LF; a trailing LF, then CR, is removed."""
    line = reader.readline()
    if not line.endswith(b"\n"):
        raise _EOF()
    line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


def read_command(reader: Any) -> list[bytes] | None:
    """``readRESPArray``: one command, or None at a clean EOF."""
    prefix = reader.read(1)
    if not prefix:
        return None
    if prefix != b"*":
        raise ProtocolError()
    count = go_atoi(_read_line(reader))
    if count is None or count < 0:
        raise ProtocolError()
    args = []
    for _ in range(count):
        kind = reader.read(1)
        if not kind:
            raise _EOF()
        if kind == b"$":
            length = go_atoi(_read_line(reader))
            if length is None:
                raise ProtocolError()
            if length < 0:
                args.append(b"")
                continue
            data = reader.read(length + 2)
            if len(data) < length + 2:
                if data:
                    raise UnexpectedEOF()
                raise _EOF()
            if data[-2:] != b"\r\n":
                raise ProtocolError()
            args.append(data[:-2])
        elif kind in (b"+", b":"):
            args.append(_read_line(reader))
        else:
            raise ProtocolError()
    return args


# -- connections and subscribers ---------------------------------------------------------


class _Connection:
    """One accepted TCP connection, RESP or HTTP."""

    def __init__(self, sock: socket.socket, peer: tuple, conn_id: int):
        self.sock, self.conn_id = sock, conn_id
        self.peer_ip = normalize_ip(peer[0])
        self.peer = peer
        self.closed = threading.Event()  # set first (under the fake's lock) when closing starts
        self.send_lock = threading.RLock()  # whole frames only: a message never interleaves a reply
        self._shut = False
        self._shut_lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(data)

    def close(self) -> None:
        self.closed.set()
        with self._shut_lock:
            if self._shut:
                return
            self._shut = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on this socket
        except OSError:
            pass
        self.sock.close()


class _Subscriber:
    """One subscribed connection: CPA's buffered Go channel and the goroutine that copies
    it to the socket. ``close()`` is Go's close(channel): what is buffered is still written,
    then the connection ends. ``abandon()`` is the handler returning: nothing more is
    written and what is buffered is discarded."""

    def __init__(self, cpa: FakeCPA, conn: _Connection, channel: str, frame_name: bytes, capacity: int):
        self.cpa, self.conn, self.channel, self.frame_name = cpa, conn, channel, frame_name
        self.capacity = capacity
        self._items: collections.deque[tuple[bytes, bool]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.abandoned = False
        self._thread = threading.Thread(target=self._write, name=f"fake-cpa-sub-{conn.conn_id}", daemon=True)

    def offer(self, payload: bytes, is_record: bool) -> bool:
        """A non-blocking send on the channel; False when it is full (or closed)."""
        with self._cond:
            if self._closed or len(self._items) >= self.capacity:
                return False
            self._items.append((payload, is_record))
            self._cond.notify()
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def abandon(self) -> None:
        with self._cond:
            self._closed = True
            self.abandoned = True
            left = [payload for payload, is_record in self._items if is_record]
            self._items.clear()
            self._cond.notify()
        if left:
            with self.cpa._lock:
                self.cpa.discarded.extend(left)

    def start(self) -> None:
        self._thread.start()

    def _write(self) -> None:
        cpa, conn = self.cpa, self.conn
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if self.abandoned:
                    return
                if not self._items:
                    break  # closed and drained
                payload, is_record = self._items.popleft()
            while cpa._frozen.is_set() and not self.abandoned and not conn.closed.is_set():
                cpa._thawed.wait(0.05)  # a half-open path: nothing gets through
            with conn.send_lock:
                sent = False
                if not self.abandoned and not conn.closed.is_set():
                    try:
                        conn.sock.sendall(array([b"message", self.frame_name, payload]))
                        sent = True
                    except OSError:
                        pass
                with cpa._lock:
                    if is_record:
                        (cpa.delivered if sent else cpa.discarded).append(payload)
                if not sent:
                    self.abandon()
                    conn.close()
                    return
        conn.close()  # the channel was closed and everything in it written: CPA's handler returns


# -- the fake ---------------------------------------------------------------------------------


def _recent_requests(success: int, failed: int) -> list[dict]:
    buckets = []
    for i in range(20):
        start = 6 * 60 + i * 10
        end = start + 10
        label = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
        buckets.append({"time": label, "success": success if i >= 17 else 0, "failed": failed if i == 19 else 0})
    return buckets


def _auth_file(provider: str, email: str, auth_index: str, *, name: str | None = None, success: int = 0,
               failed: int = 0, status: str = "active", message: str = "", unavailable: bool = False,
               extra: dict | None = None) -> dict:
    name = name or f"{provider}-{email}.json"
    entry = {
        "id": name, "auth_index": auth_index, "name": name, "type": provider, "provider": provider,
        "label": email, "status": status, "status_message": message, "disabled": False,
        "unavailable": unavailable, "runtime_only": False, "source": "file", "size": 4187,
        "success": success, "failed": failed, "recent_requests": _recent_requests(success // 3, failed),
        "email": email, "account_type": "oauth", "account": email,
        "created_at": "2026-07-30T08:12:44.51Z", "modtime": "2026-08-22T08:55:02.104Z",
        "updated_at": "2026-08-22T08:55:02.104Z", "last_refresh": "2026-08-22T08:55:02.104Z",
        "path": f"/root/.cli-proxy-api/{name}",
    }
    entry.update(extra or {})
    return entry


def default_auth_files() -> list[dict]:
    """OAuth credentials whose auth_index values match the sample payloads (v7.2.jsonl)."""
    return [
        _auth_file("antigravity", "dave@example.com", "91c2e5f0a7b84d36", success=4,
                   extra={"project_id": "antigravity-dave-4821"}),
        _auth_file("claude", "bob@example.org", "a05d9e33c18f2b70", success=12, failed=1),
        _auth_file("codex", "alice@example.com", "3f9a1c0e7b2d4a61", success=57,
                   extra={"id_token": {"chatgpt_account_id": "acct_9f2c41d07e", "plan_type": "plus",
                                       "chatgpt_subscription_active_start": "2026-08-01T00:00:00Z",
                                       "chatgpt_subscription_active_until": "2026-09-01T00:00:00Z"}}),
        _auth_file("codex", "carol@example.net", "58e0ab19c6d27f43", name="codex-carol@example.net-team.json",
                   success=21, failed=3, status="error", message="quota exhausted", unavailable=True,
                   extra={"next_retry_after": "2026-08-22T10:44:27.66304Z",
                          "id_token": {"chatgpt_account_id": "acct_51be0c9a44", "plan_type": "team",
                                       "chatgpt_subscription_active_start": "2026-07-15T00:00:00Z",
                                       "chatgpt_subscription_active_until": "2026-08-15T00:00:00Z"}}),
    ]


def default_provider_keys() -> dict[str, list]:
    """Config api-key credentials (note the hyphen in ``auth-index``), as the sample payloads use them."""
    return {
        "gemini-api-key": [{"api-key": "AIzaSyFAKE-gemini-key-0001", "base-url": "", "prefix": "", "models": [],
                            "auth-index": "6be21f04d9a3c857"}],
        "claude-api-key": [{"api-key": "sk-ant-api03-FAKE-claude-key-xyz", "base-url": "https://api.anthropic.com",
                            "prefix": "", "models": [], "auth-index": "0e4d7b2a9c13f588"}],
        "codex-api-key": [],
        "vertex-api-key": [],
        "xai-api-key": [],
        "interactions-api-key": [],
        "meta-api-key": [],
    }


def default_openai_compatibility() -> list[dict]:
    return [
        {"name": "openrouter", "disabled": False, "base-url": "https://openrouter.ai/api/v1",
         "api-key-entries": [{"api-key": "sk-or-v1-FAKE0000000000000000000000000000b780",
                              "auth-index": "c7d3e91a20b4f6e5"}],
         "models": [{"name": "moonshotai/kimi-k2:free", "alias": "kimi-k2"},
                    {"name": "qwen/qwen3-coder", "alias": "qwen3-coder"},
                    {"name": "deepseek/deepseek-chat-v3.1", "alias": "deepseek-v3.1"},
                    {"name": "z-ai/glm-4.6", "alias": "glm-4.6"}]},
        {"name": "fake", "disabled": False, "base-url": "http://127.0.0.1:9999/v1",
         "api-key-entries": [{"api-key": "sk-fake-upstream", "auth-index": "18497dfa668310f0"}],
         "models": [{"name": "fake-upstream-model", "alias": "fake-model"}]},
    ]


def default_models() -> list[dict]:
    created = 1771200000
    return [
        {"id": "gpt-5.4", "object": "model", "created": created, "owned_by": "openai"},
        {"id": "gpt-5.4-mini", "object": "model", "created": created, "owned_by": "openai"},
        {"id": "claude-sonnet-4-5-20250929", "object": "model", "created": 1759104000, "owned_by": "anthropic"},
        {"id": "claude-opus-4-1-20250805", "object": "model", "created": 1754352000, "owned_by": "anthropic"},
        {"id": "gemini-2.5-pro", "object": "model", "created": 1750118400, "owned_by": "google"},
        {"id": "gemini-2.5-flash", "object": "model", "created": 1750118400, "owned_by": "google"},
        {"id": "gemini-3-pro-preview", "object": "model", "created": 1763424000, "owned_by": "antigravity"},
        {"id": "kimi-k2", "object": "model", "created": created, "owned_by": "openrouter"},
        {"id": "fake-model", "object": "model", "created": created, "owned_by": "fake"},
    ]


class FakeCPA:
    """See the module docstring. ``start()`` it, or use it as a context manager."""

    def __init__(self, *, key: str = "test-mgmt-key", version: str = "7.2.140", host: str = "127.0.0.1",
                 port: int = 0, retention_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 subscriber_buffer: int = 256, usage_statistics_enabled: bool = True,
                 client_keys: tuple[str, ...] = ("test-client-key-1",), home_mode: bool = False,
                 management_enabled: bool = True, allow_remote: bool = False,
                 ban_clock: Callable[[], float] = time.monotonic, v8_api: bool | None = None,
                 v8_key_auth_index: bool = True, v0_api: bool = True, resp_enabled: bool = True):
        self.key, self.host, self.port = key, host, port
        self.version = version
        # Which faces this CPA shows (all may be changed at run time): the v8 management API
        # (None: by version, from 8.0.0), whether v8 key entries carry "auth-index"
        # (unverified), v0 management (False: removed, as v8.md says it is "near
        # deprecation") and RESP output (False: every connection is HTTP; v8.md "possibly off").
        self.v8_api, self.v8_key_auth_index = v8_api, v8_key_auth_index
        self.v0_api, self.resp_enabled = v0_api, resp_enabled
        self.clock = clock
        self._retention_seconds = 60.0
        self.retention_seconds = retention_seconds
        self.subscriber_buffer = subscriber_buffer
        self.usage_statistics_enabled = usage_statistics_enabled
        self.client_keys = list(client_keys)
        self.home_mode, self.allow_remote = home_mode, allow_remote
        self._management_enabled = management_enabled
        self.ban_clock = ban_clock
        self.commit, self.build_date, self.support_plugin = "a7e3596b7", "2026-08-22T03:41:09Z", "true"
        # Settable answers of the management API and /v1/models (notes §5).
        self.auth_files: list[dict] = default_auth_files()
        self.provider_keys: dict[str, list] = default_provider_keys()
        self.openai_compatibility: list[dict] = default_openai_compatibility()
        self.models: list[dict] = default_models()
        self.request_retry = 3
        # Request logs by request_id (file name, content), served by v0 /request-log-by-id/<id>
        # and v8 /observability/logs/requests/<id> as a download; request_log_failure: the
        # (status, message) every such request answers instead (a CPA that cannot read its logs).
        self.request_logs: dict[str, tuple[str, bytes]] = {}
        self.request_log_failure: tuple[int, str] | None = None
        # What happened, for assertions.
        self.commands: list[CommandRecord] = []
        self.http_requests: list[HttpRecord] = []
        self.delivered: list[bytes] = []
        self.lost: list[bytes] = []
        self.discarded: list[bytes] = []
        self.dropped_subscribers = 0
        # Internal state; everything shared is guarded by _lock.
        self._lock = threading.RLock()
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._subscribers: list[_Subscriber] = []
        self._connections: list[_Connection] = []
        self._failures: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}
        self._failed_total = 0
        self._ban_offset = 0.0
        self._frozen = threading.Event()
        self._thawed = threading.Event()
        self._thawed.set()
        self._next_conn_id = 0
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None

    @property
    def version(self) -> str:
        """The version as CPA reports it in X-CPA-VERSION: major.minor.patch, no leading "v"."""
        return self._version_text

    @version.setter
    def version(self, value: str) -> None:
        self._version = version_tuple(value)
        self._version_text = value.strip().lstrip("v")

    def at_least(self, *version: int) -> bool:
        """True when this CPA is at least that version: ``cpa.at_least(7, 1, 44)``."""
        return self._version >= version

    @property
    def v8_available(self) -> bool:
        """Whether ``/v8/management`` exists: the ``v8_api`` knob, else from 8.0.0."""
        return self.at_least(8, 0, 0) if self.v8_api is None else bool(self.v8_api)

    def v0_provider_lists(self) -> list[str]:
        """The provider key lists this CPA's v0 API (and v0 config) has, by version."""
        names = []
        for name in self.provider_keys:
            since = V0_PROVIDER_LIST_SINCE.get(name, ())
            if self.v8_available if since is None else self.at_least(*since):
                names.append(name)
        return names

    # -- configuration that CPA normalises or acts on ---------------------------------------

    @property
    def retention_seconds(self) -> float:
        """The effective retention: fixed 60 s before 6.10.1; <= 0 -> 60; > 3600 -> 3600."""
        return self._retention_seconds if self.at_least(6, 10, 1) else 60.0

    @retention_seconds.setter
    def retention_seconds(self, value: float) -> None:
        self._retention_seconds = 60.0 if value <= 0 else min(float(value), 3600.0)

    @property
    def management_enabled(self) -> bool:
        return self._management_enabled

    @management_enabled.setter
    def management_enabled(self, value: bool) -> None:
        """Turning management off disables the queue: it is cleared and every subscriber's
        channel is closed (redisqueue.SetEnabled(false)); RESP connections close before
        their next command; management routes answer 404."""
        with self._lock:
            self._management_enabled = value
            if not value:
                self._queue.clear()
                subscribers, self._subscribers = self._subscribers, []
                for subscriber in subscribers:
                    subscriber.close()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Listen (on a free port the first time if port=0, then always on that port)."""
        if self._listener is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept, args=(listener,),
                                               name=f"fake-cpa-accept-{self.port}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """CPA goes down: the listener and every connection close; the queue, the
        subscribers and the failure counters and bans (all in memory) are gone."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
            for conn in connections:
                conn.closed.set()  # no subscription can register on them any more
            subscribers, self._subscribers = self._subscribers, []
            self._queue.clear()
            self._failures.clear()
            self._banned_until.clear()
        for subscriber in subscribers:
            subscriber.abandon()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            except OSError:
                pass
            listener.close()
        for conn in connections:
            conn.close()
        if self._accept_thread is not None and self._accept_thread is not threading.current_thread():
            self._accept_thread.join(5)
        self._accept_thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
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
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Go's default on every TCP conn
                conn = _Connection(sock, peer, self._next_conn_id)
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"fake-cpa-conn-{conn.conn_id}",
                             daemon=True).start()

    def _serve(self, conn: _Connection) -> None:
        try:
            conn.sock.settimeout(10)  # CPA: 10 s to send the first byte
            first = conn.sock.recv(1, socket.MSG_PEEK)
            conn.sock.settimeout(None)
            if not first:
                return
            if first in RESP_PREFIXES and self.at_least(6, 9, 38) and self.resp_enabled:
                self._serve_resp(conn)
            else:
                _HttpHandler(conn, self)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()

    # -- the queue ---------------------------------------------------------------------------

    @staticmethod
    def _bytes(payload: Any) -> bytes:
        if isinstance(payload, (bytes, bytearray, memoryview)):
            return bytes(payload)
        if isinstance(payload, str):
            return payload.encode()
        return json.dumps(payload).encode()

    def publish(self, payload: bytes | str | dict) -> None:
        """A usage record from CPA's plugin (redisqueue.Enqueue): to every usage subscriber
        if there is one (a full one is dropped and the record lost for it), else queued."""
        data = self._bytes(payload)
        with self._lock:
            if not self.usage_statistics_enabled or not self._management_enabled or not data:
                return
            if not self._publish_locked("usage", data, is_record=True):
                self._prune_locked()
                self._queue.append((self.clock(), data))

    def publish_refresh(self) -> None:
        """``{"refresh":true}`` to usage subscribers only (v7.1.39+); never queued."""
        if self.at_least(7, 1, 39):
            with self._lock:
                if self._management_enabled:
                    self._publish_locked("usage", REFRESH, is_record=False)

    def publish_error(self, payload: bytes | str | dict) -> None:
        """An ``errors`` channel event: to its subscribers only, never queued."""
        data = self._bytes(payload)
        with self._lock:
            if self._management_enabled and data:
                self._publish_locked("errors", data, is_record=False)

    def _publish_locked(self, channel: str, data: bytes, *, is_record: bool) -> bool:
        """publishToSubscribers: True when the channel had subscribers."""
        subscribers = [s for s in self._subscribers if s.channel == channel]
        for subscriber in subscribers:
            if not subscriber.offer(data, is_record):
                self._subscribers.remove(subscriber)
                subscriber.close()  # its writer flushes what is buffered, then closes the connection
                self.dropped_subscribers += 1
                if is_record:
                    self.lost.append(data)
        return bool(subscribers)

    def queue_len(self) -> int:
        with self._lock:
            self._prune_locked()
            return len(self._queue)

    def subscriber_count(self, channel: str = "usage") -> int:
        with self._lock:
            return sum(1 for s in self._subscribers if s.channel == channel)

    def freeze_subscribers(self, frozen: bool = True) -> None:
        """A half-open path: subscriber connections stay open, but no message and no pong
        is written to them while frozen (publishing still fills their buffers)."""
        if frozen:
            self._thawed.clear()
            self._frozen.set()
        else:
            self._frozen.clear()
            self._thawed.set()

    def _prune_locked(self) -> None:
        cutoff = self.clock() - self.retention_seconds
        while self._queue and self._queue[0][0] < cutoff:  # enqueuedAt.Before(cutoff)
            self._queue.popleft()

    def _pop_oldest(self, count: int) -> list[bytes]:
        """PopOldest: up to ``count`` of the oldest records, removed (as LPOP does)."""
        with self._lock:
            if not self._management_enabled or count <= 0:
                return []
            self._prune_locked()
            popped = [self._queue.popleft()[1] for _ in range(min(count, len(self._queue)))]
            self.delivered.extend(popped)
            return popped

    # -- the management key ----------------------------------------------------------------

    def set_ban_clock_offset(self, seconds: float) -> None:
        """Shift the ban clock (not cumulative), e.g. 31*60 to let a ban expire now."""
        self._ban_offset = seconds

    def _ban_now(self) -> float:
        return self.ban_clock() + self._ban_offset

    def authenticate(self, ip: str, provided: str) -> tuple[bool, int, str]:
        """AuthenticateManagementKey: (allowed, HTTP status, message), counting failures."""
        ip = normalize_ip(ip)
        with self._lock:
            until = self._banned_until.get(ip)
            if until is not None:
                remaining = until - self._ban_now()
                if remaining > 0:
                    return False, 403, BAN_MESSAGE + go_duration(go_round_seconds(remaining))
                del self._banned_until[ip]
                self._failures[ip] = 0
            if ip not in ("127.0.0.1", "::1") and not self.allow_remote:
                return False, 403, "remote management disabled"
            if not self.key:
                return False, 403, "remote management key not set"
            if provided and provided == self.key:
                self._failures[ip] = 0
                return True, 0, ""
            self._failed_total += 1
            self._failures[ip] = self._failures.get(ip, 0) + 1
            if self._failures[ip] >= MAX_FAILURES:
                self._banned_until[ip] = self._ban_now() + BAN_SECONDS
                self._failures[ip] = 0
            if not provided:
                return False, 401, "missing management key"
            return False, 401, "invalid management key"

    def auth_failures(self, ip: str = "127.0.0.1") -> int:
        with self._lock:
            return self._failures.get(normalize_ip(ip), 0)

    def failed_attempts_total(self) -> int:
        with self._lock:
            return self._failed_total

    def is_banned(self, ip: str = "127.0.0.1") -> bool:
        with self._lock:
            until = self._banned_until.get(normalize_ip(ip))
            return until is not None and until - self._ban_now() > 0

    def reset_bans(self) -> None:
        """Forget every failure count and ban (the total of failed attempts is kept)."""
        with self._lock:
            self._failures.clear()
            self._banned_until.clear()

    # -- RESP ------------------------------------------------------------------------------

    def _record_command(self, conn: _Connection, args: list[bytes]) -> None:
        with self._lock:
            self.commands.append(CommandRecord(conn.conn_id, conn.peer_ip, args, time.monotonic()))

    def _serve_resp(self, conn: _Connection) -> None:
        if self.home_mode and self.at_least(7, 0, 0):
            conn.send(error("ERR redis usage output disabled in home mode"))
            return
        if self._version == (7, 1, 17):
            conn.send(error("ERR RESP AUTH disabled; use mTLS"))
            return
        with conn.sock.makefile("rb") as reader:
            authed = False
            while True:
                if not self._management_enabled:
                    return  # closed without a reply
                try:
                    args = read_command(reader)
                except ProtocolError:
                    conn.send(error("ERR protocol error"))
                    return
                except UnexpectedEOF:
                    conn.send(error("ERR unexpected EOF"))
                    return
                except _EOF:
                    return
                if args is None:
                    return
                self._record_command(conn, args)
                if not args:
                    conn.send(error("ERR empty command"))
                    continue
                name = args[0].strip().upper()
                if name != b"AUTH" and not authed:
                    _, status, message = self.authenticate(conn.peer_ip, "")  # counts as a failed login
                    banned = status == 403 and message.startswith(BAN_MESSAGE)
                    conn.send(error("ERR " + message if banned else "NOAUTH Authentication required."))
                elif name == b"AUTH":
                    authed = self._resp_auth(conn, args) or authed
                elif name == b"SUBSCRIBE" and self.at_least(7, 0, 7):
                    subscriber = self._resp_subscribe(conn, args)
                    if subscriber is not None:
                        self._stream(conn, reader, subscriber)
                        return
                elif name in (b"LPOP", b"RPOP"):
                    conn.send(self._resp_pop(name.lower(), args))
                else:
                    conn.send(error(b"ERR unknown command '" + name.lower() + b"'"))

    def _resp_auth(self, conn: _Connection, args: list[bytes]) -> bool:
        if len(args) not in (2, 3):
            _, status, message = self.authenticate(conn.peer_ip, "")
            if status == 403 and message.startswith(BAN_MESSAGE):
                conn.send(error("ERR " + message))
            else:
                conn.send(error("ERR wrong number of arguments for 'auth' command"))
            return False
        allowed, _, message = self.authenticate(conn.peer_ip, args[-1].decode("utf-8", "surrogateescape"))
        conn.send(b"+OK\r\n" if allowed else error("ERR " + message))
        return allowed

    def _resp_pop(self, name: bytes, args: list[bytes]) -> bytes:
        if len(args) not in (2, 3):
            return error(b"ERR wrong number of arguments for '" + name + b"' command")
        count = 1 if len(args) == 2 else (go_atoi(args[2].strip()) or 0)
        if count <= 0:
            return error("ERR value is not an integer or out of range")
        queue_name = args[1].strip()
        if self.at_least(7, 1, 44) and queue_name.lower() != b"usage":
            return error(b"ERR unsupported channel '" + queue_name + b"'")
        items = self._pop_oldest(count)
        if len(args) == 3:
            return array(items)
        return bulk(items[0] if items else None)

    def _resp_subscribe(self, conn: _Connection, args: list[bytes]) -> _Subscriber | None:
        """Answer SUBSCRIBE; the registered subscriber when it succeeded."""
        if len(args) != 2:
            conn.send(error("ERR wrong number of arguments for 'subscribe' command"))
            return None
        sent = args[1].strip()
        channels = ("usage", "errors") if self.at_least(7, 1, 44) else ("usage",)
        channel = sent.decode("utf-8", "replace").lower()
        if channel not in channels:
            conn.send(error(b"ERR unsupported channel '" + sent + b"'"))
            return None
        frame_name = sent if self.at_least(7, 1, 44) else b"usage"
        subscriber = _Subscriber(self, conn, channel, frame_name, self.subscriber_buffer)
        if channel == "usage" and self.at_least(7, 1, 39):
            subscriber.offer(SUPPORT_REFRESH, is_record=False)  # queued before registration, so it is first
        with self._lock:
            if conn.closed.is_set() or not self._management_enabled:
                return None
            self._subscribers.append(subscriber)
        try:
            conn.send(b"*3\r\n" + bulk(b"subscribe") + bulk(frame_name) + b":1\r\n")
        except OSError:
            self._unsubscribe(subscriber)
            return None
        subscriber.start()  # messages only after the acknowledgement
        return subscriber

    def _unsubscribe(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
        subscriber.abandon()

    def _stream(self, conn: _Connection, reader: Any, subscriber: _Subscriber) -> None:
        """Serve the subscription until it ends; the caller then closes the connection."""

        def final(reply: bytes) -> None:  # the last thing written: nothing buffered follows it
            with conn.send_lock:
                self._unsubscribe(subscriber)
                conn.send(reply)

        try:
            while True:
                try:
                    args = read_command(reader)
                except ProtocolError:
                    return final(error("ERR protocol error"))
                except UnexpectedEOF:
                    return final(error("ERR unexpected EOF"))
                except _EOF:
                    return
                if args is None:
                    return
                self._record_command(conn, args)
                if not args:
                    conn.send(error("ERR empty command"))
                    continue
                name = args[0].strip().upper()
                if name == b"PING":
                    if not self._frozen.is_set():
                        conn.send(array([b"pong", args[1] if len(args) > 1 else None]))
                elif name == b"UNSUBSCRIBE":
                    return final(b"*3\r\n" + bulk(b"unsubscribe") + bulk(subscriber.frame_name) + b":0\r\n")
                elif name == b"QUIT":
                    return final(b"+OK\r\n")
                else:
                    conn.send(error(b"ERR unknown command '" + name.lower() + b"'"))
        finally:
            self._unsubscribe(subscriber)

    # -- HTTP management ---------------------------------------------------------------------

    def _management_routes(self) -> dict[str, tuple[str, ...]]:
        routes = {
            "/usage-statistics-enabled": ("GET", "PUT", "PATCH"),
            "/config": ("GET",),
            "/auth-files": ("GET",),
            "/api-keys": ("GET",),
            "/openai-compatibility": ("GET",),
        }
        for name in self.v0_provider_lists():
            routes["/" + name] = ("GET",)
        if self.at_least(6, 10, 8):
            routes["/usage-queue"] = ("GET",)
        return routes

    def config(self) -> dict:
        """GET /v0/management/config: the config as JSON (host, port, remote-management hidden)."""
        retention = self.retention_seconds
        return {
            "debug": False, "commercial-mode": False, "logging-to-file": False, "logs-max-total-size-mb": 0,
            "error-logs-max-files": 10, "usage-statistics-enabled": self.usage_statistics_enabled,
            "redis-usage-queue-retention-seconds": int(retention) if retention == int(retention) else retention,
            "disable-cooling": False, "request-retry": self.request_retry, "max-retry-credentials": 0,
            "max-retry-interval": 30, "quota-exceeded": {"switch-project": True, "switch-preview-model": True},
            "routing": {"strategy": "round-robin"}, "ws-auth": False, "proxy-url": "", "force-model-prefix": False,
            "request-log": False, "api-keys": list(self.client_keys), "passthrough-headers": False,
            **{name: self.provider_keys[name] for name in self.v0_provider_lists()},
            "openai-compatibility": self.openai_compatibility,
        }

    def _v8_key(self, entry: dict) -> dict:
        """One key of a v8 group: the api-key with weight 1, plus the v0 "auth-index" unless
        ``v8_key_auth_index`` is off (unverified: v8.md shows only api-key and weight)."""
        key = {k: v for k, v in entry.items() if k != "auth-index"}
        key.setdefault("weight", 1)
        if self.v8_key_auth_index and "auth-index" in entry:
            key["auth-index"] = entry["auth-index"]
        return key

    def v8_api_key_groups(self) -> dict[str, list[dict]]:
        """``api-keys`` of the v8 layout, built from the v0 lists: each v0 entry is one group
        of one key. A provider without entries has no node (v8 reads the YAML tree)."""
        groups: dict[str, list[dict]] = {}
        for name, entries in self.provider_keys.items():
            if not name.endswith("-api-key") or not entries:
                continue
            provider = name[:-len("-api-key")]
            groups[provider] = [
                {"name": entry.get("name") or f"{provider}-{i + 1}", "base-url": entry.get("base-url") or "",
                 "keys": [self._v8_key({"api-key": entry.get("api-key", ""),
                                        **({"auth-index": entry["auth-index"]} if "auth-index" in entry else {})})]}
                for i, entry in enumerate(entries)]
        if self.openai_compatibility:
            groups["openai-compatibility"] = [
                {"name": entry.get("name", ""), "base-url": entry.get("base-url") or "",
                 "disabled": bool(entry.get("disabled", False)), "models": entry.get("models") or [],
                 "keys": [self._v8_key(key) for key in entry.get("api-key-entries") or []]}
                for entry in self.openai_compatibility]
        return groups

    def v8_config(self) -> dict:
        """GET /v8/management/config: the v8 layout (v8.md "Config keys that moved"), as much
        of it as the fake knows; the sections beyond those v8.md names follow the examples of
        CLIProxyAPIDocs apiv8.md (routing.strategy, routing.retry, requests.proxy-url)."""
        retention = self.retention_seconds
        document = {
            "routing": {"strategy": "round-robin", "retry": {"request-retry": self.request_retry}},
            "requests": {"proxy-url": ""},
            "access": {"api-keys": list(self.client_keys)},
            "observability": {
                "logs": {"logging-to-file": False, "request-log": False},
                "usage": {"usage-statistics-enabled": self.usage_statistics_enabled,
                          "redis-usage-queue-retention-seconds":
                              int(retention) if retention == int(retention) else retention}},
        }
        groups = self.v8_api_key_groups()
        if groups:
            document["api-keys"] = groups
        return document

    def _usage_queue(self, query: dict) -> tuple[int, bytes]:
        """GET /v0/management/usage-queue and /v8/management/observability/usage/queue."""
        raw = (query.get("count") or [""])[0].strip()
        count = 1 if raw == "" else go_atoi(raw.encode())
        if count is None or count <= 0:
            return 400, go_json({"error": "count must be a positive integer"})
        return 200, b"[" + b",".join(usage_queue_item(item) for item in self._pop_oldest(count)) + b"]"

    def _management_v8(self, method: str, route: str, query: dict, body: bytes) -> tuple[int, bytes, dict]:
        """A v8 management request that passed the key check: (status, body, extra headers).
        Routes not modelled, like every unknown one, answer 404 ``{"error":"not_found"}``."""
        segments = [urllib.parse.unquote(part) for part in route.split("/") if part]
        if method == "GET" and segments == ["credentials"]:
            return 200, go_json({"files": self.auth_files}), {}
        if method == "GET" and segments == ["observability", "usage", "queue"]:
            return *self._usage_queue(query), {}
        if method == "GET" and segments[:3] == ["observability", "logs", "requests"] and len(segments) == 4:
            return self.request_log(segments[3])
        if segments[:1] != ["config"]:
            return 404, go_json(V8_NOT_FOUND), {}
        path, no_store = segments[1:], {"Cache-Control": "no-store"}
        if method == "GET":
            node: Any = self.v8_config()
            for segment in path:  # mapping keys only: a list is never indexed
                if not isinstance(node, dict) or segment not in node:
                    return 404, go_json(V8_NOT_FOUND), no_store
                node = node[segment]
            return 200, go_json(node), no_store
        if method in ("PUT", "PATCH") and path == V8_USAGE_STATISTICS_PATH:
            try:
                value: Any = json.loads(body)
            except ValueError:
                value = body
            if not isinstance(value, bool):
                # the error code is v8.md's; the message text is the fake's own (unverified)
                return 400, go_json({"error": "invalid_config", "message":
                                     "observability.usage.usage-statistics-enabled: the body must be the raw JSON "
                                     "value true or false (a {\"value\": ...} envelope is not a v8 value)"}), {}
            self.usage_statistics_enabled = value
            return 200, go_json({"status": "ok", "config-version": 8}), {}
        return 404, go_json(V8_NOT_FOUND), {}

    def request_log(self, request_id: str) -> tuple[int, bytes, dict]:
        """A request log as CPA's handler sends it: the file as an attachment, else 404."""
        if self.request_log_failure is not None:
            status, message = self.request_log_failure
            return status, go_json({"error": message}), {}
        if request_id not in self.request_logs:
            return 404, go_json({"error": "request log not found"}), {}
        name, content = self.request_logs[request_id]
        return 200, content, {"Content-Disposition": f'attachment; filename="{name}"',
                              "Content-Type": "application/octet-stream"}

    def _management(self, method: str, route: str, query: dict, body: bytes) -> tuple[int, bytes]:
        if route == "/usage-statistics-enabled":
            if method == "GET":
                return 200, go_json({"usage-statistics-enabled": self.usage_statistics_enabled})
            try:
                value = json.loads(body).get("value")
            except (ValueError, AttributeError):
                value = None
            if not isinstance(value, bool):
                return 400, go_json({"error": "invalid body"})
            self.usage_statistics_enabled = value
            return 200, go_json({"status": "ok"})
        if route == "/config":
            return 200, go_json(self.config())
        if route == "/auth-files":
            return 200, go_json({"files": self.auth_files})
        if route == "/api-keys":
            return 200, go_json({"api-keys": self.client_keys})
        if route == "/openai-compatibility":
            return 200, go_json({"openai-compatibility": self.openai_compatibility})
        if route == "/usage-queue":
            return self._usage_queue(query)
        name = route[1:]
        return 200, go_json({name: self.provider_keys.get(name, [])})


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    """HTTP on the shared port: /healthz, /v0/management/*, /v8/management/*, /v1/models.
    HTTP/1.1 keep-alive as Go's server does it: many requests on one connection."""

    protocol_version = "HTTP/1.1"

    def __init__(self, conn: _Connection, cpa: FakeCPA):
        self.cpa, self.conn = cpa, conn
        super().__init__(conn.sock, conn.peer, cpa)

    def log_message(self, *args: Any) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())  # Go sends no Server header

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request that cannot be parsed: what Go's net/http writes, then close."""
        status = b"%d %s" % (code, http.HTTPStatus(code).phrase.encode())
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         b"Connection: close\r\n\r\n" + status)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: gin answers 404 (no 405/501)
            return self._handle
        raise AttributeError(name)

    def _answer(self, status: int, body: bytes = b"", content_type: str | None = "application/json; charset=utf-8",
                headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type and (body or status != 404):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self) -> None:
        if self.cpa.at_least(7, 1, 47):
            self._answer(404)  # CPA's NoRoute: AbortWithStatus(404), no body
        else:
            self._answer(404, b"404 page not found", "text/plain")  # gin's default

    def _client_ip(self) -> str:
        """gin's ClientIP with its defaults (every proxy trusted): the left-most valid
        X-Forwarded-For address, else X-Real-IP, else the TCP peer."""
        for header in ("X-Forwarded-For", "X-Real-IP"):
            value = self.headers.get(header, "")
            items = [item.strip() for item in value.split(",")] if value else []
            if items and all(_is_ip(item) for item in items):
                return normalize_ip(items[0])
        return self.conn.peer_ip

    def _handle(self) -> None:
        cpa = self.cpa
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        path, method = url.path, self.command
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        with cpa._lock:
            cpa.http_requests.append(HttpRecord(method, self.path, dict(self.headers.items()), body,
                                                self.conn.peer_ip, self.conn.conn_id))
        if method == "OPTIONS":  # CORS middleware
            return self._answer(204, content_type=None)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._answer(200, b"" if method == "HEAD" else go_json({"status": "ok"}))
        if not cpa.v0_api and (path == "/v0" or path.startswith("/v0/")):
            return self._not_found()  # v0 removed: no route of it exists
        if path == "/v0/management" or path.startswith("/v0/management/"):
            return self._handle_management(method, path[len("/v0/management"):], query, body)
        if path == "/v8/management" or path.startswith("/v8/management/"):
            if not cpa.v8_available:
                return self._not_found()  # a CPA without v8: an unknown route, no key check
            return self._handle_v8(method, path[len("/v8/management"):], query, body)
        if (cpa.client_keys and any(key.strip() in TEMPLATE_CLIENT_KEYS for key in cpa.client_keys)
                and any(path == p or path.startswith(p + "/") for p in PROXY_PATH_PREFIXES)):
            return self._answer(403, go_json({
                "error": "unsafe_example_api_key",
                "message": "Proxy API endpoints are disabled because api-keys contains template values. Open "
                           "/management.html?safe-mode=configure, update api-keys in Management, then retry."}),
                headers={"X-CPA-SAFE-MODE": "example-api-key"})
        if path == "/v1/models" and method == "GET":
            return self._handle_models(query)
        return self._not_found()

    def _authorized(self) -> dict | None:
        """The availability and key checks every management route (v0 and v8) passes first.
        The X-CPA-* headers when the request may go on; None when the answer (404 for a
        disabled management or home mode, else the refusal) has been written."""
        cpa = self.cpa
        if not cpa.management_enabled or cpa.home_mode:
            self._answer(404)
            return None
        headers = {"X-CPA-VERSION": cpa.version, "X-CPA-COMMIT": cpa.commit, "X-CPA-BUILD-DATE": cpa.build_date,
                   "X-CPA-SUPPORT-PLUGIN": cpa.support_plugin}
        provided = ""
        authorization = self.headers.get("Authorization", "")
        if authorization:
            scheme, space, rest = authorization.partition(" ")  # strings.SplitN(ah, " ", 2)
            provided = rest if space and scheme.lower() == "bearer" else authorization
        if not provided:
            provided = self.headers.get("X-Management-Key", "")
        allowed, status, message = cpa.authenticate(self._client_ip(), provided)
        if not allowed:
            self._answer(status, go_json({"error": message}), headers=headers)
            return None
        return headers

    def _handle_management(self, method: str, route: str, query: dict, body: bytes) -> None:
        cpa = self.cpa
        known = method in cpa._management_routes().get(route, ())
        log_route = method == "GET" and route.startswith("/request-log-by-id/")
        known = known or log_route
        if not known and not cpa.at_least(7, 1, 47):
            return self._not_found()
        headers = self._authorized()
        if headers is None:
            return None
        if log_route:
            status, answer, extra = cpa.request_log(urllib.parse.unquote(route[len("/request-log-by-id/"):]))
            return self._answer(status, answer, extra.pop("Content-Type", "application/json; charset=utf-8"),
                                headers={**headers, **extra})
        if not known:
            return self._answer(404, headers=headers)
        status, answer = cpa._management(method, route, query, body)
        return self._answer(status, answer, headers=headers)

    def _handle_v8(self, method: str, route: str, query: dict, body: bytes) -> None:
        headers = self._authorized()
        if headers is None:
            return None
        status, answer, extra = self.cpa._management_v8(method, route, query, body)
        content_type = extra.pop("Content-Type", "application/json; charset=utf-8")
        return self._answer(status, answer, content_type, headers={**headers, **extra})

    def _handle_models(self, query: dict) -> None:
        cpa = self.cpa
        if cpa.client_keys:
            authorization = self.headers.get("Authorization", "")
            scheme, space, rest = authorization.partition(" ")
            bearer = rest.strip() if space and scheme.lower() == "bearer" else authorization
            candidates = [bearer, self.headers.get("X-Goog-Api-Key", ""), self.headers.get("X-Api-Key", ""),
                          (query.get("key") or [""])[0], (query.get("auth_token") or [""])[0]]
            if not any(candidates):
                return self._answer(401, go_json({"error": "Missing API key"}))
            keys = {key.strip() for key in cpa.client_keys if key.strip()}
            if not any(candidate in keys for candidate in candidates if candidate):
                return self._answer(401, go_json({"error": "Invalid API key"}))
        data = []
        for model in cpa.models:
            entry = {"id": model.get("id"), "object": model.get("object")}
            entry.update({field: model[field] for field in ("created", "owned_by") if field in model})
            data.append(entry)
        return self._answer(200, go_json({"object": "list", "data": data}))

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = do_OPTIONS = _handle


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
