"""The API server's HTTP/1.1 protocol: uvicorn's h11 protocol with a request-header deadline.

uvicorn has no timeout for reading a request's headers (its `timeout_keep_alive` only covers the idle
time between requests, and every received byte cancels it; the header timeout asked for in
encode/uvicorn#157 was never added), and an ASGI middleware runs only once the headers are complete.
So a client that connects and sends nothing, or trickles its header bytes one at a time (slowloris),
holds a connection for as long as it likes, and 128 such clients fill `limit_concurrency`.

This subclass gives every request HEADER_TIMEOUT seconds for its whole header block: counted from the
connection's start for the first request, and from the first byte of each next request on a kept-alive
connection (the wait before that byte is the keep-alive timeout's). Past the deadline the client gets
`408 Request Timeout` and the connection is closed. Bodies are bounded in time by api.guard.

It relies on two documented-by-code parts of uvicorn's H11Protocol (`conn`, the h11 connection, and
`transport`); tests/api/test_header_timeout.py runs it against a real server on loopback.
"""

from __future__ import annotations

import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0  # seconds for a request's whole header block

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b'{"error": "timeout", "message": "request headers not received in time (closed)"}'
_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class HeaderTimeoutProtocol(H11Protocol):
    """H11Protocol with a deadline for each request's header block (see the module docstring)."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._header_deadline = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of a next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the header block is complete (or the connection is done)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expired(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.warning("%s: request headers not complete within %g s; connection closed",
                        "%s:%d" % tuple(self.client[:2]) if self.client else "client", self.header_timeout)
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to give uvicorn (`http=`), with this header deadline."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": float(seconds)})


def server_options(limits: dict | None = None) -> dict:
    """uvicorn's options for `btcstress serve`: the header deadline (api.limits.header_timeout), idle
    keep-alive connections closed after 5 s, at most 128 connections at once (more get 503), a header
    block of at most 16 KiB."""
    limits = limits or {}
    return {"http": with_header_timeout(float(limits.get("header_timeout", HEADER_TIMEOUT))),
            "timeout_keep_alive": 5, "limit_concurrency": 128, "h11_max_incomplete_event_size": 16 * 1024}
