"""Alert delivery to a webhook, off the monitor's event loop.

The monitor must keep reading its streams whatever the webhook does: slow, failing, answering 429
with `Retry-After: 300`. So `emit` only puts the alert on a bounded queue and returns; one worker
thread POSTs it with a timeout per attempt, retries (tenacity: exponential backoff with jitter, or
the server's Retry-After, capped) within a deadline per alert, and writes what it could not deliver
to a dead-letter file (one JSON line per alert: the alert, the last error, the attempts). A full
queue dead-letters at once instead of blocking. At exit `close` drains the queue for a bounded time;
what is left is dead-lettered too, and the caller reports the count (the CLI exits non-zero).

Every alert is therefore delivered or dead-lettered: `delivered + dead_lettered == accepted`.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from btcstress.errors import InputError

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def validate_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host, checked when the monitor starts (not at the first alert)."""
    if not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url.strip()):
        raise InputError(f"--webhook {url!r}: not a URL")
    try:
        u = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InputError(f"--webhook {url!r}: not a valid URL ({exc})") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise InputError(f"--webhook {url!r}: expected an http:// or https:// URL with a host")
    return str(u)


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    pass


@dataclass
class DeliveryStats:
    accepted: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    attempts: int = 0
    retries: int = 0


class WebhookSink:
    """A monitor sink: queue alerts for the webhook worker; see the module docstring."""

    def __init__(self, url: str, dead_letter: Path | str = "data/undelivered-alerts.jsonl", *,
                 queue_size: int = 1000, timeout: float = 10.0, attempts: int = 5, backoff: float = 0.5,
                 max_backoff: float = 10.0, max_retry_after: float = 30.0, deadline: float = 120.0,
                 log: Callable[[str], None] | None = None, client: httpx.Client | None = None, fmt: str = "json"):
        self.url = validate_webhook_url(url)
        self.fmt = fmt  # json (the alert itself) or slack (monitor.payload)
        self.dead_letter = Path(dead_letter)
        self.log = log or (lambda m: None)
        self.stats = DeliveryStats()
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.max_retry_after, self.deadline = max_retry_after, deadline
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._abort = threading.Event()  # set when the drain time is up: stop waiting, stop retrying
        self._lock = threading.Lock()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._worker.start()

    # -- the monitor's side (never blocks) -----------------------------------------------------

    def emit(self, alert: dict) -> None:
        with self._lock:
            self.stats.accepted += 1
        if self._closed:
            self._dead(alert, "monitor stopping: not queued", 0)
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._dead(alert, f"delivery queue full ({self._queue.maxsize} alerts waiting)", 0)

    def close(self, drain_timeout: float = 15.0) -> DeliveryStats:
        """Stop accepting, deliver what is queued within `drain_timeout`, dead-letter the rest."""
        if self._closed:
            return self.stats
        self._closed = True
        self._queue.put(None)  # the worker stops at this marker, after what was queued before it
        self._worker.join(drain_timeout)
        if self._worker.is_alive():
            self._abort.set()  # cut retries and waits short; what remains is dead-lettered
            self._worker.join((self._client.timeout.read or 10.0) + 1.0)
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                break
            if left is not None:
                self._dead(left, f"not delivered within {drain_timeout:g} s of stopping", 0)
        self._client.close()
        if self.stats.dead_lettered:
            self.log(f"webhook: {self.stats.dead_lettered} of {self.stats.accepted} alert(s) not delivered; "
                     f"kept in {self.dead_letter}")
        return self.stats

    # -- the worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            if self._abort.is_set():
                self._dead(alert, "not delivered before exit", 0)
                continue
            self._deliver(alert)

    def _deliver(self, alert: dict) -> None:
        tries = {"n": 0}
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline) | (lambda rs: self._abort.is_set()),
            wait=self._wait, sleep=lambda s: self._abort.wait(s), retry=retry_if_exception_type(_Retryable),
            reraise=False)
        try:
            for attempt in retrying:
                with attempt:
                    tries["n"] += 1
                    self._post(alert)
        except RetryError as exc:
            self._dead(alert, str(exc.last_attempt.exception()), tries["n"])
            return
        except _Permanent as exc:
            self._dead(alert, str(exc), tries["n"])
            return
        with self._lock:
            self.stats.delivered += 1
            self.stats.attempts += tries["n"]
            self.stats.retries += tries["n"] - 1

    def _wait(self, rs) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(after, self.max_retry_after)
        return wait_exponential_jitter(multiplier=self.backoff, max=self.max_backoff)(rs)

    def _post(self, alert: dict) -> None:
        from btcstress.monitor import payload
        try:
            r = self._client.post(self.url, content=json.dumps(payload(alert, self.fmt), allow_nan=False),
                                  headers={"Content-Type": "application/json"})
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # a non-finite number: never valid JSON, never deliverable
            raise _Permanent(f"alert is not valid JSON ({exc})") from None
        if 200 <= r.status_code < 300:
            return
        msg = f"HTTP {r.status_code}"
        if r.status_code in RETRY_STATUSES:
            raise _Retryable(msg, retry_after(r.headers.get("Retry-After")))
        raise _Permanent(msg)

    def _dead(self, alert: dict, error: str, attempts: int) -> None:
        rec = {"alert": alert, "error": error[:500], "attempts": attempts, "url": self.url,
               "dead_lettered_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        with self._lock:
            self.stats.dead_lettered += 1
            self.stats.attempts += attempts
            try:
                self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
                with self.dead_letter.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(rec, default=str) + "\n")
            except OSError as exc:
                self.log(f"webhook: cannot write the dead-letter file {self.dead_letter}: {exc.strerror}; "
                         f"undelivered alert: {json.dumps(alert, default=str)[:300]}")
        self.log(f"webhook: alert {alert.get('rule')} not delivered ({error[:120]}); dead-lettered")


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        from email.utils import parsedate_to_datetime
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


__all__ = ["DeliveryStats", "WebhookSink", "retry_after", "validate_webhook_url"]
