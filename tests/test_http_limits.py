"""Idle, slow and huge requests cannot take the dashboard and API down: a thousand idle
connections, headers and bodies that trickle in, bodies larger than their route takes
(refused from the headers, before a byte of them is read). The server is the one
`serve` runs (create_http_server: waitress with HttpLimits); these tests also guard the
parts of waitress 3.0 it reaches into."""

import socket
import threading
import time

import pytest

from cpa_usage import HttpLimits, create_http_server


@pytest.fixture
def serve_with(service_factory):
    """The service's app behind create_http_server with the given limits: (host, port)."""
    servers = []

    def start(limits=HttpLimits(), **settings):
        service = service_factory("http://127.0.0.1:9", start=False, **settings)
        server = create_http_server(service.app, "127.0.0.1", 0, "/usage", limits, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return "127.0.0.1", server.effective_port

    yield start
    for server in servers:
        server.close()


def connect(address, data=b""):
    sock = socket.create_connection(address, timeout=5)
    if data:
        sock.sendall(data)
    return sock


def ask(address, request: bytes, timeout=10.0) -> bytes:
    """One request on a new connection: the answer, headers and body."""
    with connect(address, request) as sock:
        sock.settimeout(timeout)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                return answer
            answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0]) if b"content-length: " in head else 0
        while len(answer.split(b"\r\n\r\n", 1)[1]) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def closed_by_server(sock, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
            if chunk.startswith(b"HTTP/1.1 4"):  # an error answer, then the close
                continue
    except (TimeoutError, socket.timeout):
        return False
    except OSError:
        return True


PING = b"GET /usage/api/v1/ping HTTP/1.1\r\nHost: t\r\n\r\n"


def test_a_thousand_idle_connections_and_the_api_still_answers(serve_with, capsys):
    address = serve_with()
    idle = [connect(address) for _ in range(500)]
    idle += [connect(address, b"GET /usage/api/v1/status HTTP/1.1\r\nHost: t\r\n") for _ in range(500)]
    started = time.monotonic()
    answer = ask(address, PING)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 200 OK") and b'"ok":true' in answer
    with capsys.disabled():
        print(f"\n  ping with 1,000 idle connections open: {took * 1000:.1f} ms")
    for sock in idle:
        sock.close()


def test_headers_that_trickle_in_are_cut_off(serve_with):
    address = serve_with(HttpLimits(header_s=0.5, check_every_s=1))
    slow = connect(address, b"GET /usage/api/v1/ping HTTP/1.1\r\n")
    assert closed_by_server(slow, within=5.0)
    assert ask(address, PING).startswith(b"HTTP/1.1 200")  # a normal request is not


def test_a_body_that_trickles_in_is_cut_off(serve_with):
    address = serve_with(HttpLimits(body_grace_s=0.5, min_body_rate=16384, check_every_s=1))
    slow = connect(address, b"POST /usage/api/v1/import HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n"
                            b"Content-Length: 1000000\r\n\r\n" + b"x" * 100)
    assert closed_by_server(slow, within=5.0)


@pytest.mark.parametrize("path, length", [("/usage/api/v1/auth/login", 900 * 2**20),
                                          ("/usage/api/v1/auth/login", 5 * 1024),
                                          ("/usage/api/v1/pricing", 65 * 1024),
                                          ("/usage/api/v1/import", 300 * 2**20)])
def test_bodies_larger_than_their_route_takes_are_refused_from_the_headers(serve_with, path, length):
    address = serve_with(AUTH_ENABLED="true", LOGIN_PASSWORD="x")
    answer = ask(address, f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {length}\r\n\r\n".encode(), timeout=5)  # no byte of the body sent
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_past_the_limit_is_refused(serve_with):
    address = serve_with()
    chunk = b"x" * 8192
    with connect(address, b"PUT /usage/api/v1/pricing HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n") as sock:
        # 80 KiB in one write: it fits the socket's buffer, so it is all sent before the
        # server answers and closes (a later write could meet the reset of that close).
        sock.sendall(b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")


def test_an_upload_larger_than_a_json_body_is_taken(serve_with):
    address = serve_with()
    line = b'{"tokens": {}, "model": "m", "timestamp": "2026-01-01T00:00:00Z"}\n'
    body = line * (200_000 // len(line))  # 200 KB: over the JSON limit, under the upload's
    answer = ask(address, b"POST /usage/api/v1/import?name=big.jsonl HTTP/1.1\r\nHost: t\r\n"
                          b"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
                 timeout=20)
    assert answer.startswith(b"HTTP/1.1 200") and b'"added":' in answer
