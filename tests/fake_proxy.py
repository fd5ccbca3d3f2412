"""An HTTP-only reverse proxy to put in front of the fake CPA, and two addresses that never
speak RESP: what a client meets when CPA is published the way most Docker setups publish it.

Why: v8.md ("Usage output") says an HTTP reverse proxy in front of CPA (Traefik, nginx,
Caddy) passes HTTP only, and RESP bytes get an HTTP 400 answer or a closed connection. A
client that was given such a URL must fall back to HTTP, keep working under a path prefix and
behind TLS, and must not take the proxy's 400 for a CPA answer (nor burn key attempts on it).

What ``ReverseProxy`` does, and which proxy it follows where they differ:

* Listens on 127.0.0.1 (port 0 the first time: a free port; a restart keeps it), one thread
  per client connection, HTTP/1.1 with keep-alive to its clients (many requests on one
  connection, as all three proxies do).
* A request whose path is the prefix or starts with ``prefix + "/"`` is forwarded with the
  prefix stripped (``/cpa/v0/management/x?y=1`` -> ``/v0/management/x?y=1``; ``/cpa`` ->
  ``/``), any other path gets the proxy's own 404 (an HTML body, as nginx writes it).
  Method, query, headers and body pass through; the hop-by-hop headers (Connection and the
  ones it names, Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Proxy-*) are
  dropped; a chunked request body is decoded and sent with a Content-Length. The Host
  header passes through (Traefik's and Caddy's default; nginx sends the upstream's).
  ``X-Forwarded-For`` gets the client's address appended, ``X-Forwarded-Proto`` (http or
  https) and ``X-Forwarded-Host`` (the client's Host) are set, overwriting what the client
  sent (all three proxies do that by default for the last two).
* The upstream's status, headers (minus hop-by-hop) and body come back with a correct
  Content-Length (none for 1xx/204/304; for HEAD the upstream's). One new upstream
  connection per forwarded request (nginx's default without ``keepalive``). No upstream:
  502; an upstream timeout: 504.
* Anything that is not an HTTP/1.x request line (RESP such as ``*2\\r\\n$4\\r\\nAUTH``, an
  inline command, HTTP/0.9) is answered ``HTTP/1.1 400 Bad Request`` and the connection is
  closed, as nginx does; nothing of it reaches the upstream. The close is a lingering one
  (write side first, then what the client still sends is read and dropped), so the answer
  is not lost to a TCP reset.
* ``tls=True``: HTTPS with a certificate for 127.0.0.1 and localhost (subjectAltName),
  signed by a throw-away CA made with the ``openssl`` command line; ``ca_file`` is that
  CA, for the client to trust. Plain bytes on the TLS port (RESP, or HTTP without TLS: a
  first byte that does not open a TLS handshake record) get nginx's plain-text ``400 The
  plain HTTP request was sent to HTTPS port`` and a close, counted in ``rejected``; a TLS
  handshake that fails (a client that does not trust the certificate) closes the
  connection and is counted in ``handshake_failures``.

Records for tests: ``connections`` (client TCP connections accepted), ``requests``
(``ProxyRecord(method, path as received, headers dict)``, forwarded or not), ``rejected``
(connections answered 400 because they were not HTTP, or not TLS on the TLS port),
``handshake_failures``. Not modelled: HTTP/2, WebSocket upgrades, streaming (a response is
read whole before it is sent on), absolute-form targets, upstream keep-alive.

``ClosingListener`` and ``SilentListener`` are the other addresses that never speak RESP: one
accepts and closes at once, the other accepts and stays silent until ``stop()``. Both count
``connections``.
"""

from __future__ import annotations

import email.utils
import http.client
import http.server
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
import weakref
from typing import Any, NamedTuple, Self

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
NO_BODY_STATUSES = {204, 304}
_METHOD = re.compile(r"[A-Z][A-Z_-]*\Z")
_VERSION = re.compile(r"HTTP/1\.[0-9]\Z")


class ProxyRecord(NamedTuple):
    method: str
    path: str  # as the client sent it, prefix included
    headers: dict


def _hop_by_hop(headers: Any) -> set[str]:
    """The header names (lower case) a proxy must not pass on: the fixed set, Proxy-*, and
    whatever the Connection header names (RFC 9110 §7.6.1)."""
    named = {token.strip().lower() for value in headers.get_all("Connection", []) or []
             for token in value.split(",") if token.strip()}
    return HOP_BY_HOP | named


def _is_hop_by_hop(name: str, drop: set[str]) -> bool:
    lower = name.lower()
    return lower in drop or lower.startswith("proxy-")


def _html(status: int) -> bytes:
    """The body nginx writes for its own error pages (its name replaced)."""
    title = f"{status} {http.HTTPStatus(status).phrase}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"<hr><center>fake-proxy</center>\r\n</body>\r\n</html>\r\n").encode()


def _plain_on_tls() -> bytes:
    """nginx's answer to plain bytes on its TLS port (its 497, sent as 400), then close."""
    body = (b"<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n"
            b"<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port"
            b"</center>\r\n<hr><center>fake-proxy</center>\r\n</body>\r\n</html>\r\n")
    return (b"HTTP/1.1 400 Bad Request\r\nServer: fake-proxy\r\nDate: " + email.utils.formatdate(usegmt=True).encode()
            + b"\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def make_test_certificate(directory: str) -> tuple[str, str, str]:
    """(ca_file, cert_file, key_file): a throw-away CA and a server certificate it signed,
    valid for 127.0.0.1 and localhost. A CA plus a leaf (not one self-signed certificate)
    because that is what strict verification (Python's VERIFY_X509_STRICT) accepts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("ReverseProxy(tls=True) needs the openssl command line tool to make its test "
                           "certificate, and none is on PATH: install openssl")
    config = os.path.join(directory, "openssl.cnf")
    with open(config, "w") as handle:
        handle.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = fake-proxy\n"
                     "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
                     "subjectKeyIdentifier = hash\n"
                     "[leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                     "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n"
                     "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
    path = {name: os.path.join(directory, name) for name in ("ca.pem", "ca.key", "cert.pem", "cert.key", "cert.csr")}
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", "-new", *key, "-keyout", path["ca.key"], "-out", path["ca.pem"], "-days", "30",
         "-subj", "/CN=fake-proxy test CA", "-config", config, "-extensions", "ca"],
        [openssl, "req", "-new", *key, "-keyout", path["cert.key"], "-out", path["cert.csr"],
         "-subj", "/CN=localhost", "-config", config],
        [openssl, "x509", "-req", "-in", path["cert.csr"], "-CA", path["ca.pem"], "-CAkey", path["ca.key"],
         "-set_serial", "0x" + os.urandom(8).hex(), "-days", "30", "-out", path["cert.pem"],
         "-extfile", config, "-extensions", "leaf"],
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl failed ({' '.join(command[1:3])}): {done.stderr.strip()}")
    return path["ca.pem"], path["cert.pem"], path["cert.key"]


class _Listener:
    """A TCP listener on 127.0.0.1 with an accept thread; ``_accepted`` serves each
    connection. Port 0 the first time (a free port), then the same port on a restart."""

    name = "listener"

    def __init__(self) -> None:
        self.host, self.port = "127.0.0.1", 0
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), name=f"{self.name}-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection still open."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            except OSError:
                pass
            listener.close()
        for sock in sockets:
            _close(sock)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None

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
                self.connections += 1
                self._sockets.add(sock)
            self._accepted(sock, peer)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _accepted(self, sock: socket.socket, peer: tuple) -> None:
        raise NotImplementedError


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it
    except OSError:
        pass
    sock.close()


class ClosingListener(_Listener):
    """An address that accepts and at once closes every connection (a port a firewall or
    a crashed backend leaves behind): the client sees EOF before any byte."""

    name = "closing-listener"

    def _accepted(self, sock: socket.socket, peer: tuple) -> None:
        self._forget(sock)
        sock.close()


class SilentListener(_Listener):
    """An address that accepts and then never writes nor closes (a half-open path, a
    server waiting for something the client never sends), until ``stop()``."""

    name = "silent-listener"

    def _accepted(self, sock: socket.socket, peer: tuple) -> None:
        pass  # kept in _sockets: stop() closes it


class ReverseProxy(_Listener):
    """See the module docstring. ``start()`` it, or use it as a context manager."""

    name = "fake-proxy"

    def __init__(self, upstream_url: str, prefix: str = "", tls: bool = False, *,
                 upstream_timeout: float = 10.0):
        super().__init__()
        upstream = urllib.parse.urlsplit(upstream_url)
        if upstream.scheme != "http" or not upstream.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream_url!r}")
        self.upstream_host, self.upstream_port = upstream.hostname, upstream.port or 80
        self.upstream_path = upstream.path.rstrip("/")
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.tls, self.upstream_timeout = tls, upstream_timeout
        self.requests: list[ProxyRecord] = []
        self.rejected = 0
        self.handshake_failures = 0
        self.ca_file: str | None = None
        self._context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{self.prefix}"

    def start(self) -> Self:
        if self.tls and self._context is None:
            directory = tempfile.mkdtemp(prefix="fake-proxy-tls-")
            weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)
            self.ca_file, cert_file, key_file = make_test_certificate(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            context.set_alpn_protocols(["http/1.1"])
            self._context = context
        return super().start()

    def _accepted(self, sock: socket.socket, peer: tuple) -> None:
        threading.Thread(target=self._serve, args=(sock, peer), name=f"fake-proxy-conn-{self.connections}",
                         daemon=True).start()

    def _serve(self, sock: socket.socket, peer: tuple) -> None:
        conn: socket.socket = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # nginx's tcp_nodelay, Go's default
            if self._context is not None:
                sock.settimeout(10)
                first = sock.recv(1, socket.MSG_PEEK)
                if not first:
                    return
                if first != b"\x16":  # not a TLS handshake record: plain bytes on the TLS port
                    with self._lock:
                        self.rejected += 1
                    sock.sendall(_plain_on_tls())
                    _linger(sock)
                    return
                try:
                    conn = self._context.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    with self._lock:
                        self.handshake_failures += 1
                    return
                with self._lock:
                    self._sockets.add(conn)  # stop() must close the TLS layer's socket too
                conn.settimeout(None)
            handler = _ProxyHandler(conn, peer, self)
            if handler.rejected and not isinstance(conn, ssl.SSLSocket):
                _linger(conn)
        except (OSError, ValueError):
            pass
        finally:
            self._forget(sock)
            self._forget(conn)
            try:
                conn.close()
            except OSError:
                pass
            sock.close()

    def _target(self, path: str) -> str | None:
        """The upstream request target for a client's path, or None outside the prefix."""
        raw, mark, query = path.partition("?")
        if self.prefix:
            if raw == self.prefix:
                raw = "/"
            elif raw.startswith(self.prefix + "/"):
                raw = raw[len(self.prefix):]
            else:
                return None
        return self.upstream_path + raw + mark + query


def _linger(sock: socket.socket) -> None:
    """nginx's lingering close: the answer is flushed and the write side shut first, then
    what the client still sends is read and dropped (for a short while), so a close with
    unread data does not reset the connection before the client has read the answer."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        while sock.recv(65536):
            pass
    except OSError:
        pass


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """One client connection of the proxy: HTTP/1.1, kept alive, each request forwarded."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-proxy"
    sys_version = ""

    def __init__(self, conn: socket.socket, peer: tuple, proxy: ReverseProxy):
        self.proxy, self.rejected = proxy, False
        super().__init__(conn, peer, proxy)

    def log_message(self, *args: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method is forwarded
            return self._handle
        raise AttributeError(name)

    def parse_request(self) -> bool:
        """nginx's view of the request line first: ``METHOD target HTTP/1.x`` with an
        upper-case method, else 400 at once (http.server alone would take ``GET /x`` for
        HTTP/0.9 and then wait for headers); then http.server's parsing."""
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or not _METHOD.match(words[0]) or not _VERSION.match(words[2]):
            self.command, self.request_version = "", "HTTP/1.1"
            self.send_error(400)
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What nginx writes for a request it cannot parse: its error page, then close."""
        if code == 400 and not self.rejected:
            self.rejected = True
            with self.proxy._lock:
                self.proxy.rejected += 1
        self.close_connection = True
        self._reply(code, _html(code), "text/html", close=True)

    def _reply(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        """An answer of the proxy's own (not the upstream's)."""
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", "Server: fake-proxy",
                f"Date: {email.utils.formatdate(usegmt=True)}", f"Content-Type: {content_type}",
                f"Content-Length: {len(body)}"]
        if close:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None after answering 400."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline(65537).split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers: dropped
                        return b"".join(chunks)
                    chunk = self.rfile.read(size)
                    if len(chunk) < size:
                        raise ValueError("body cut short")
                    chunks.append(chunk)
                    self.rfile.readline(65537)
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise ValueError("body cut short")
            return body
        except ValueError:
            self.close_connection = True
            self._reply(400, _html(400), "text/html", close=True)  # a bad body, not a non-HTTP client
            return None

    def _handle(self) -> None:
        proxy = self.proxy
        with proxy._lock:
            proxy.requests.append(ProxyRecord(self.command, self.path, dict(self.headers.items())))
        body = self._read_body()
        if body is None:
            return
        target = proxy._target(self.path)
        if target is None:
            return self._reply(404, _html(404), "text/html")
        drop = _hop_by_hop(self.headers) | {"content-length", "expect", "x-forwarded-for", "x-forwarded-proto",
                                            "x-forwarded-host"}
        headers = [(name, value) for name, value in self.headers.items() if not _is_hop_by_hop(name, drop)]
        client_ip = self.client_address[0]
        forwarded_for = ", ".join(self.headers.get_all("X-Forwarded-For", []) or [])
        host = self.headers.get("Host") or f"{proxy.host}:{proxy.port}"
        headers += [("X-Forwarded-For", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip),
                    ("X-Forwarded-Proto", "https" if proxy.tls else "http"), ("X-Forwarded-Host", host)]
        if "Host" not in self.headers:
            headers.insert(0, ("Host", host))
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                              timeout=proxy.upstream_timeout)
        try:
            upstream.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            data = response.read()
            status, reason, answer_headers = response.status, response.reason, response.getheaders()
            upstream_drop = _hop_by_hop(response.headers) | {"content-length"}
            upstream_length = response.getheader("Content-Length")
        except TimeoutError:
            return self._reply(504, _html(504), "text/html")
        except (OSError, http.client.HTTPException):
            return self._reply(502, _html(502), "text/html")
        finally:
            upstream.close()
        self.send_response_only(status, reason)
        for name, value in answer_headers:
            if not _is_hop_by_hop(name, upstream_drop):
                self.send_header(name, value)
        if not any(name.lower() == "date" for name, _ in answer_headers):
            self.send_header("Date", self.date_time_string())
        if self.command == "HEAD":
            if upstream_length is not None:
                self.send_header("Content-Length", upstream_length)
        elif status >= 200 and status not in NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and status >= 200 and status not in NO_BODY_STATUSES:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = do_OPTIONS = _handle
