"""The reverse proxy stand-in of fake_proxy.py, spoken to over raw sockets and http.client:
what v8.md says a client meets behind Traefik/nginx/Caddy (HTTP only, a path prefix, TLS,
RESP answered 400), and the two listeners that never speak RESP. If these stand-ins drifted,
the tests that put a client behind them would prove nothing."""

import json
import socket
import ssl
import time
from http.client import HTTPConnection, HTTPSConnection

import pytest
from backends import wait_for
from fake_cpa import FakeCPA
from fake_proxy import ClosingListener, ReverseProxy, SilentListener

TIMEOUT = 5.0
RECORD = b'{"timestamp":"2026-08-22T09:12:04.183422911Z","model":"gpt-5.4","tokens":{"total_tokens":17}}'
RESP_AUTH = b"*2\r\n$4\r\nAUTH\r\n$13\r\ntest-mgmt-key\r\n"


@pytest.fixture
def cpa():
    with FakeCPA() as fake:
        yield fake


@pytest.fixture
def proxy(cpa):
    with ReverseProxy(cpa.url, prefix="/cpa") as front:
        yield front


def request(connection, method: str, path: str, body: bytes | None = None, **headers):
    """(status, headers, body) of one request on a kept connection; '_' in names is '-'."""
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def key(cpa: FakeCPA) -> dict:
    return {"Authorization": f"Bearer {cpa.key}"}


def read_all(sock: socket.socket) -> bytes:
    """Everything the server writes until it closes (fails on a timeout: it must close)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_forwards_under_the_prefix_and_strips_it(cpa, proxy):
    assert proxy.url == f"http://127.0.0.1:{proxy.port}/cpa" and proxy.host == "127.0.0.1" and proxy.port
    cpa.publish(RECORD)
    connection = HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    status, headers, body = request(connection, "GET", "/cpa/v0/management/usage-queue?count=5", **key(cpa))
    assert (status, json.loads(body)) == (200, [json.loads(RECORD)])
    assert headers["X-CPA-VERSION"] == "7.2.140" and headers["Content-Length"] == str(len(body))
    assert cpa.http_requests[-1].path == "/v0/management/usage-queue?count=5"
    # method and body pass through: the PUT reaches CPA as sent
    status, _, body = request(connection, "PUT", "/cpa/v0/management/usage-statistics-enabled", b'{"value":false}',
                              Content_Type="application/json", **key(cpa))
    assert (status, json.loads(body)) == (200, {"status": "ok"}) and cpa.usage_statistics_enabled is False
    forwarded = cpa.http_requests[-1]
    assert (forwarded.method, forwarded.body) == ("PUT", b'{"value":false}')
    assert forwarded.headers["Content-Type"] == "application/json" and forwarded.headers["Content-Length"] == "15"
    # the prefix alone is the upstream's root; CPA's own errors come back as they are
    status, headers, body = request(connection, "GET", "/cpa")
    assert (status, body) == (404, b"") and headers["Content-Length"] == "0"
    assert cpa.http_requests[-1].path == "/"
    assert request(connection, "GET", "/cpa/v0/management/config")[0] == 401 and cpa.auth_failures() == 1
    connection.close()
    assert [r.path for r in proxy.requests] == ["/cpa/v0/management/usage-queue?count=5",
                                                "/cpa/v0/management/usage-statistics-enabled", "/cpa",
                                                "/cpa/v0/management/config"]


def test_paths_outside_the_prefix_are_the_proxys_404(cpa, proxy):
    connection = HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    for path in ("/", "/healthz", "/v0/management/config", "/cpafoo/healthz", "/other/cpa/healthz"):
        status, headers, body = request(connection, "GET", path, **key(cpa))
        assert status == 404 and b"404 Not Found" in body and headers["Content-Type"] == "text/html", path
        assert "X-CPA-VERSION" not in headers, path
    assert request(connection, "GET", "/cpa/healthz")[0:3:2] == (200, b'{"status":"ok"}')  # the same connection
    connection.close()
    assert [r.path for r in cpa.http_requests] == ["/healthz"] and cpa.failed_attempts_total() == 0
    with ReverseProxy(cpa.url) as bare:  # no prefix: every path is forwarded as it is
        assert bare.url == f"http://127.0.0.1:{bare.port}"
        assert request(HTTPConnection(bare.host, bare.port, timeout=TIMEOUT), "GET", "/healthz?x=1")[0] == 200
        assert cpa.http_requests[-1].path == "/healthz?x=1"


def test_client_connections_are_kept_alive(cpa, proxy):
    connection = HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    for _ in range(3):
        assert request(connection, "GET", "/cpa/v0/management/config", **key(cpa))[0] == 200
    assert request(connection, "GET", "/nowhere")[0] == 404  # the proxy's own answers keep it open too
    assert request(connection, "GET", "/cpa/healthz")[0] == 200
    connection.close()
    assert proxy.connections == 1 and len(proxy.requests) == 5
    # one upstream connection per forwarded request
    assert len({r.conn_id for r in cpa.http_requests}) == 4


def test_forwarded_headers_reach_cpa(cpa, proxy):
    connection = HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    status, _, _ = request(connection, "GET", "/cpa/v0/management/config", Keep_Alive="timeout=5",
                           Proxy_Authorization="Basic eDp5", Upgrade="h2c", Connection="X-Secret",
                           X_Secret="drop me", X_Custom="kept", **key(cpa))
    assert status == 200
    headers = cpa.http_requests[-1].headers
    assert headers["X-Forwarded-For"] == "127.0.0.1" and headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == headers["Host"] == f"127.0.0.1:{proxy.port}"
    assert headers["X-Custom"] == "kept" and headers["Authorization"] == f"Bearer {cpa.key}"
    for name in ("Keep-Alive", "Proxy-Authorization", "Upgrade", "Connection", "X-Secret"):
        assert name not in headers, name
    # an X-Forwarded-For from the client is appended to; CPA (v7) believes its left-most address
    status, _, body = request(connection, "GET", "/cpa/v0/management/config", X_Forwarded_For="10.0.0.7",
                              X_Forwarded_Proto="https", **key(cpa))
    assert (status, json.loads(body)) == (403, {"error": "remote management disabled"})
    headers = cpa.http_requests[-1].headers
    assert headers["X-Forwarded-For"] == "10.0.0.7, 127.0.0.1" and headers["X-Forwarded-Proto"] == "http"
    connection.close()
    assert cpa.http_requests[-1].peer_ip == "127.0.0.1" and cpa.failed_attempts_total() == 0


def test_chunked_bodies_are_sent_on_with_a_length(cpa, proxy):
    with socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"PUT /cpa/v0/management/usage-statistics-enabled HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + cpa.key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"6\r\n{\"valu\r\n9\r\ne\":false}\r\n0\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 ") and cpa.usage_statistics_enabled is False
    forwarded = cpa.http_requests[-1]
    assert forwarded.body == b'{"value":false}' and forwarded.headers["Content-Length"] == "15"
    assert "Transfer-Encoding" not in forwarded.headers


@pytest.mark.parametrize("opening", [RESP_AUTH, b"*1\r\n$4\r\nPING\r\n", b"PING\r\n", b"AUTH test-mgmt-key\r\n",
                                     b"GET /cpa/healthz\r\n"])
def test_non_http_is_answered_400_and_never_reaches_cpa(cpa, proxy, opening):
    with socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(opening)
        reply = read_all(sock)  # then the proxy closes
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request" and b"Connection: close" in rest
    assert proxy.rejected == 1 and proxy.connections == 1 and proxy.requests == []
    assert cpa.http_requests == [] and cpa.commands == [] and cpa.failed_attempts_total() == 0


def test_a_dead_upstream_is_a_502(cpa):
    with ReverseProxy(cpa.url, prefix="/cpa") as front:
        cpa.stop()
        connection = HTTPConnection(front.host, front.port, timeout=TIMEOUT)
        status, headers, body = request(connection, "GET", "/cpa/healthz")
        assert status == 502 and b"502 Bad Gateway" in body and "X-CPA-VERSION" not in headers
        cpa.start()  # the same port: the proxy reaches it again, on the same client connection
        assert request(connection, "GET", "/cpa/healthz")[0] == 200
        connection.close()


def test_restart_keeps_the_port(cpa):
    front = ReverseProxy(cpa.url).start()
    port = front.port
    front.stop()
    with pytest.raises(OSError):
        socket.create_connection((front.host, port), timeout=1).close()
    front.start()
    try:
        assert front.port == port
        assert request(HTTPConnection(front.host, port, timeout=TIMEOUT), "GET", "/healthz")[0] == 200
    finally:
        front.stop()


# -- TLS ---------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_proxy(cpa):
    with ReverseProxy(cpa.url, prefix="/cpa", tls=True) as front:
        yield front


def test_tls_works_for_a_client_that_trusts_the_ca(cpa, tls_proxy):
    assert tls_proxy.url == f"https://127.0.0.1:{tls_proxy.port}/cpa"
    context = ssl.create_default_context(cafile=tls_proxy.ca_file)  # hostname checked: 127.0.0.1 is in the SAN
    connection = HTTPSConnection(tls_proxy.host, tls_proxy.port, context=context, timeout=TIMEOUT)
    for _ in range(2):
        status, headers, body = request(connection, "GET", "/cpa/v0/management/api-keys", **key(cpa))
        assert (status, json.loads(body)) == (200, {"api-keys": ["test-client-key-1"]})
    connection.close()
    assert tls_proxy.connections == 1  # kept alive over TLS too
    assert cpa.http_requests[-1].headers["X-Forwarded-Proto"] == "https"
    # localhost is in the SAN as well (checked by name, on 127.0.0.1 whatever localhost resolves to)
    with context.wrap_socket(socket.create_connection((tls_proxy.host, tls_proxy.port), timeout=TIMEOUT),
                             server_hostname="localhost") as sock:
        sock.sendall(b"GET /cpa/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ssl.SSLCertVerificationError):  # and a name it does not hold is refused
        context.wrap_socket(socket.create_connection((tls_proxy.host, tls_proxy.port), timeout=TIMEOUT),
                            server_hostname="example.com")


def test_tls_fails_for_a_client_that_trusts_nothing(cpa, tls_proxy):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA at all
    connection = HTTPSConnection(tls_proxy.host, tls_proxy.port, context=context, timeout=TIMEOUT)
    with pytest.raises(ssl.SSLCertVerificationError):
        request(connection, "GET", "/cpa/healthz")
    connection.close()
    wait_for(lambda: tls_proxy.handshake_failures == 1, timeout=TIMEOUT, what="the failed handshake counted")
    assert cpa.http_requests == []


def test_resp_or_plain_http_on_the_tls_port_is_answered_400(cpa, tls_proxy):
    for opening in (RESP_AUTH, b"GET /cpa/healthz HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection((tls_proxy.host, tls_proxy.port), timeout=TIMEOUT) as sock:
            sock.sendall(opening)
            reply = read_all(sock)  # in plain text, then closed (as nginx does)
        assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), opening
        assert b"The plain HTTP request was sent to HTTPS port" in reply, opening
    assert tls_proxy.rejected == 2 and tls_proxy.handshake_failures == 0 and tls_proxy.requests == []
    assert cpa.http_requests == [] and cpa.commands == [] and cpa.failed_attempts_total() == 0


# -- addresses that never speak RESP ---------------------------------------------------------------------


def test_closing_listener_closes_at_once():
    with ClosingListener() as listener:
        assert listener.host == "127.0.0.1" and listener.port
        for n in range(1, 3):
            with socket.create_connection((listener.host, listener.port), timeout=TIMEOUT) as sock:
                try:
                    sock.sendall(RESP_AUTH)
                    assert sock.recv(100) == b""  # EOF before any byte (or a reset)
                except ConnectionResetError:
                    pass
            wait_for(lambda: listener.connections == n, timeout=TIMEOUT, what=f"connection {n} counted")
    with pytest.raises(OSError):
        socket.create_connection((listener.host, listener.port), timeout=1).close()


def test_silent_listener_never_answers_until_stopped():
    listener = SilentListener().start()
    try:
        sock = socket.create_connection((listener.host, listener.port), timeout=0.5)
        sock.sendall(RESP_AUTH)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing written, and not closed either
        assert time.monotonic() - started >= 0.4
        wait_for(lambda: listener.connections == 1, timeout=TIMEOUT, what="the connection counted")
    finally:
        listener.stop()
    sock.settimeout(TIMEOUT)
    try:
        assert sock.recv(100) == b""  # stop() closes it
    except ConnectionResetError:
        pass
    sock.close()
