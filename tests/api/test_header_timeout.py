"""Issue 17, "request and header timeouts": a client that never finishes its request headers (slowloris:
sends them a byte at a time, or nothing at all) is cut; a trickled body is cut at its total deadline;
normal and kept-alive requests are untouched. A real uvicorn on 127.0.0.1 with btcstress's own server
options (api.protocol.server_options), short deadlines so the test is quick. The deadline is observed
by the server closing the connection, never by timing the test."""

from __future__ import annotations

import socket
import time

import pytest

from tests.api.conftest import serving

from btcstress.api import create_app
from btcstress.api.protocol import server_options

HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(snapshot_db):  # one server for the module: each test uses its own connections
    limits = {"header_timeout": HEADER_TIMEOUT, "body_timeout": 5, "body_total": 1.5}
    app = create_app(snapshot_db, config={"api": {"limits": limits}})
    with serving(app, **server_options(limits)) as port:
        yield port


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def _trickle(s: socket.socket, data: bytes, pause: float) -> tuple[bytes, int]:
    """Send data a byte at a time, `pause` s apart, until the server answers or closes the connection;
    (what the server answered, how many bytes were sent before that)."""
    sent = 0
    for b in data:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 1
        s.settimeout(pause)
        try:
            first = s.recv(65536)
        except socket.timeout:
            continue
        finally:
            s.settimeout(60)
        return first + _read_all(s), sent
    return _read_all(s), sent


HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"


def test_headers_sent_a_byte_at_a_time_are_cut_with_408(server):
    # 0.1 s per byte: the 230-byte header block would take 23 s; the deadline is 1 s.
    with socket.create_connection(("127.0.0.1", server), timeout=60) as s:
        out, sent = _trickle(s, HEAD, 0.1)
    assert out.startswith(b"HTTP/1.1 408"), out[:200]
    assert sent < len(HEAD)  # cut before the client finished


def test_a_connection_that_sends_nothing_is_closed(server):
    s = socket.create_connection(("127.0.0.1", server), timeout=60)
    try:
        out = _read_all(s)  # returns when the server closes
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 408"), out[:200]


def test_a_request_sent_whole_and_a_kept_alive_second_one_are_answered(server):
    with socket.create_connection(("127.0.0.1", server), timeout=60) as s:
        for _ in range(2):  # the second on the same connection, after the first answer
            s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _answer(s).startswith(b"HTTP/1.1 200")


def _answer(s: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) read from a kept-alive connection."""
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    fields = dict(ln.split(b": ", 1) for ln in head.split(b"\r\n")[1:] if b": " in ln)
    length = int(next(v for k, v in fields.items() if k.lower() == b"content-length"))
    body = b""
    while len(body) < length:
        body += s.recv(length - len(body))
    return head


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_too(server):
    with socket.create_connection(("127.0.0.1", server), timeout=60) as s:
        s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _answer(s).startswith(b"HTTP/1.1 200")
        # The next request a byte every 0.1 s: each byte cancels uvicorn's keep-alive timer, not this deadline.
        out, sent = _trickle(s, HEAD, 0.1)
    assert out.startswith(b"HTTP/1.1 408"), out[:200]
    assert sent < len(HEAD)


def test_a_body_trickled_a_byte_at_a_time_is_cut_at_its_total_deadline(server):
    body = b"claim_id,finding,value\n" + b"x" * 400
    head = (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", server), timeout=60) as s:
        s.sendall(head)
        # Each byte well inside the 5 s per-chunk timeout; the whole body would take 40 s, its deadline is 1.5 s.
        out, sent = _trickle(s, body, 0.1)
    assert out.startswith(b"HTTP/1.1 408"), out[:200]
    assert sent < len(body)


def test_a_body_byte_arriving_after_the_408_does_not_keep_the_connection_open(server):
    # The race CI hit: the 408 for an unfinished body goes out, then one more body byte arrives. That byte
    # cancels uvicorn's keep-alive timer, so unless the 408 closes the connection it stays open for good.
    head = (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 100\r\n\r\nclaim_id")
    with socket.create_connection(("127.0.0.1", server), timeout=20) as s:
        s.sendall(head)
        first = s.recv(65536)  # the 408, after the 1.5 s body deadline
        try:
            s.sendall(b",")
        except (BrokenPipeError, ConnectionResetError):
            pass
        rest = _read_all(s)  # a socket.timeout here (20 s) means the server kept the connection
    out = first + rest
    assert out.startswith(b"HTTP/1.1 408"), out[:200]
    assert b"connection: close" in out.lower()
