"""What keeps the API from being starved or tricked (issue 17): one pure ASGI middleware and the
admission control for uncached work.

The middleware, before any endpoint runs:
- **Host allow-list.** A request whose Host header is not an allowed name gets 400. The default is the
  loopback names (127.0.0.1, localhost, ::1), so a web page on another origin that rebinds its DNS
  name to 127.0.0.1 cannot read a loopback API from a browser. `api.allowed_hosts` (or serving on
  another interface with `--host`) adds names.
- **Writes off means no body read.** A POST to a write endpoint while writes are off is answered 403
  before its body is read (a 50 MB body is never parsed to be refused).
- **Body size and time, enforced while reading.** A Content-Length above the limit is refused at
  once (413); a body sent in chunks is counted as it arrives and cut at the limit; every chunk must
  arrive within `body_timeout` seconds and the whole body within `body_total`, so a body that never
  completes, or is trickled a byte at a time, does not hold the connection (408). The endpoint then
  reads the already-bounded body. (Request headers have their own deadline, in the server's protocol:
  api.protocol.)

Admission (`Admission`): uncached computations (findings at a new instant, claim checks) run at most
`workers` at a time (one store lock serialises them anyway) with at most `queue` more waiting; past
that a request is answered 503 with `Retry-After` at once instead of joining a queue that would take
minutes to drain. Cached answers and /health never wait for a computation.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from contextlib import contextmanager
from typing import Any, Iterable

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 1_000_000  # bytes, any request
BODY_TIMEOUT = 10.0  # seconds between two chunks of a request body
BODY_TOTAL = 30.0  # seconds for a whole request body
WRITE_PATHS = ("/cite",)

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s'\"/:]+){2,}/?")
_PID = re.compile(r"\s*\(?\bPID\s*\d+\)?", re.IGNORECASE)


def scrub(message: str) -> str:
    """No absolute paths and no process ids in what the API tells a client: a path becomes its last
    part, a PID is dropped."""
    message = _PID.sub("", message)
    return _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], message)


def _host(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for k, v in headers:
        if k == b"host":
            h = v.decode("latin-1").strip().lower()
            if h.startswith("["):  # [::1]:8000
                return h[1:h.find("]")] if "]" in h else h
            return h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    return None


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app, *, allowed_hosts: Iterable[str] = LOOPBACK, max_body: int = MAX_BODY,
                 body_timeout: float = BODY_TIMEOUT, body_total: float = BODY_TOTAL, writes_on=lambda: False):
        self.app = app
        self.body_total = body_total
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.writes_on = writes_on

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = _host(scope.get("headers") or ())
        if "*" not in self.allowed and (host is None or host not in self.allowed):
            return await _reply(send, 400, "bad_host", "Host header not allowed: this API answers only to "
                                "its own names (api.allowed_hosts)")
        if scope["method"] == "POST" and scope["path"] in WRITE_PATHS and not self.writes_on():
            return await _reply(send, 403, "writes_disabled", "write endpoints are off: set api.token in "
                                "btcstress.yaml or BTCSTRESS_API_TOKEN, then send 'Authorization: Bearer <token>'")
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return await _reply(send, 400, "bad_request", "Content-Length is not a number")
            if n > self.max_body:
                return await _reply(send, 413, "too_large", f"request body is {n:,} bytes; at most {self.max_body:,}")
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # Read the whole body here, bounded in size and time (each chunk within body_timeout, the whole
        # body within body_total: a body trickled a byte at a time is cut too), then hand it to the app.
        chunks, size = [], 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_total
        while True:
            left = deadline - loop.time()
            try:
                msg = await asyncio.wait_for(receive(), timeout=max(0.0, min(self.body_timeout, left)))
            except asyncio.TimeoutError:
                return await _reply(send, 408, "timeout", f"request body not received within "
                                    f"{self.body_timeout if left > self.body_timeout else self.body_total:g} s")
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_body:
                return await _reply(send, 413, "too_large", f"request body is over {self.max_body:,} bytes")
            chunks.append(body)
            if not msg.get("more_body"):
                break
        whole = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _reply(send, status: int, error: str, message: str, headers: dict | None = None) -> None:
    """An error answered before the request body was read (or while reading it), so the connection is
    closed after it: the rest of the body cannot be told from a next request, and a body byte arriving
    after the answer would cancel uvicorn's keep-alive timer and leave the connection open for good."""
    body = json.dumps({"error": error, "message": message}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


class Busy(Exception):
    """Too many uncached computations waiting: answer 503 with Retry-After."""

    def __init__(self, retry_after: int):
        super().__init__(f"busy: too many computations waiting; retry in {retry_after} s")
        self.retry_after = retry_after


class Admission:
    """At most `workers` uncached computations at a time and `queue` waiting; more are refused."""

    def __init__(self, workers: int = 2, queue: int = 8, retry_after: int = 5):
        self.slots = threading.BoundedSemaphore(max(1, workers))
        self.limit = max(1, workers) + max(0, queue)
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self.active = 0  # admitted: running or waiting for a slot
        self.refused = 0

    @contextmanager
    def admit(self):
        with self._lock:
            if self.active >= self.limit:
                self.refused += 1
                raise Busy(self.retry_after)
            self.active += 1
        try:
            with self.slots:
                yield
        finally:
            with self._lock:
                self.active -= 1

    def stats(self) -> dict[str, Any]:
        return {"active": self.active, "limit": self.limit, "refused": self.refused}
