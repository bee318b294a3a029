"""HTTP for the live connectors: timeouts, retries with exponential backoff and jitter, Retry-After,
per-host rate limits and Binance's used-weight header.

One `Http` per run. Every request goes through `get`/`post_json`, which:
- waits for the host's rate limiter (pyrate-limiter; at most `per_second` requests per second per
  host, evenly spaced: EDGAR asks for no more than 10; mempool.space and Binance ban clients that
  hammer them);
- retries (with tenacity) on connection errors, timeouts and the statuses in
  `RetryPolicy.retry_statuses` (429, 418, 5xx), waiting `Retry-After` when the server says (seconds or
  an HTTP date, capped), otherwise `backoff x 2^attempt` with jitter, capped at `max_backoff`; a
  DNS failure or another 4xx fails at once (no retry can fix it);
- slows down before Binance's limit (hand-written: the budget used is the server's word, read from a
  response header, which no client-side limiter can know): when `X-MBX-USED-WEIGHT-1M` passes `weight_pause_fraction` of
  the host's weight budget, it waits for the next minute;
- raises FetchError (with the URL and the last status) once the attempts are spent.
A 404 is an answer, not a failure: callers that probe (a monthly archive not yet published) pass
`ok=(200, 404)` and look at the status.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
import tenacity
from pyrate_limiter import InMemoryBucket, Rate, RateItem

from btcstress.errors import BtcstressError

log = logging.getLogger(__name__)
DEFAULT_USER_AGENT = "btcstress/0.1 (+https://github.com/btcstress/btcstress)"


class FetchError(BtcstressError):
    """A source could not be fetched after the retries (network down, persistent 5xx, a ban)."""

    exit_code = 1


@dataclass
class RetryPolicy:
    attempts: int = 5  # total tries per request
    backoff: float = 0.5  # seconds before the first retry
    max_backoff: float = 30.0
    jitter: float = 0.5  # a wait is drawn uniformly from [(1 - jitter) x w, w]
    max_retry_after: float = 300.0  # never wait longer than this on a server's word
    retry_statuses: tuple[int, ...] = (408, 418, 425, 429, 500, 502, 503, 504)

    def wait(self, attempt: int, rng: random.Random) -> float:
        w = min(self.max_backoff, self.backoff * (2 ** attempt))
        return w * (1.0 - self.jitter * rng.random())


class RateLimiter:
    """At most `per_second` requests per second to one host, evenly spaced (one per 1/per_second s).

    pyrate-limiter's sliding-window bucket decides whether a request may go now and, if not, how long to
    wait; the wait itself goes through `sleep` (not the library's own blocking loop) so that Http counts
    it in HttpStats.waited_s and tests can run on a fake clock without sleeping. A rate of 0 (or 1,000/s
    and more) means no limit. Thread-safe (the bucket holds its own lock)."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        # Rate(1, interval): one request per interval, rounded up to whole milliseconds (never faster)
        self.bucket = (InMemoryBucket([Rate(1, math.ceil(1000.0 / per_second))])
                       if 0 < per_second < 1000 else None)
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> float:
        """Wait until a request may go; returns the seconds waited."""
        waited = 0.0
        if self.bucket is None:
            return waited
        while True:
            item = RateItem("request", int(self._clock() * 1000))
            decision = self.bucket.put_decision(item)
            if decision.allowed:
                self.bucket.leak(item.timestamp)  # drop entries older than the window
                return waited
            wait_ms = decision.retry_after_ms if decision.retry_after_ms is not None else self.bucket.waiting(item)
            self._sleep(max(wait_ms, 1) / 1000.0)
            waited += max(wait_ms, 1) / 1000.0


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


class Http:
    def __init__(self, *, timeout: float = 20.0, policy: RetryPolicy | None = None,
                 user_agent: str = DEFAULT_USER_AGENT, rate_limits: dict[str, float] | None = None,
                 default_rate: float = 5.0, weight_limits: dict[str, int] | None = None,
                 weight_pause_fraction: float = 0.8, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None, transport: httpx.BaseTransport | None = None):
        self.policy = policy or RetryPolicy()
        self.sleep, self.clock = sleep, clock  # injectable so tests run the waits on a fake clock
        self.rng = rng or random.Random()
        self.rate_limits = dict(rate_limits or {})
        self.default_rate = default_rate
        self.weight_limits = dict(weight_limits or {})
        self.weight_pause_fraction = weight_pause_fraction
        self._limiters: dict[str, RateLimiter] = {}
        self.stats = HttpStats()
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                   headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
                                   follow_redirects=True, transport=transport)

    @classmethod
    def from_config(cls, conf: dict[str, Any] | None, **kw) -> "Http":
        """`sources.http` from the config: timeout, attempts, backoff, max_backoff, user_agent, rates."""
        c = dict(conf or {})
        policy = RetryPolicy(attempts=int(c.get("attempts", 5)), backoff=float(c.get("backoff", 0.5)),
                             max_backoff=float(c.get("max_backoff", 30.0)))
        return cls(timeout=float(c.get("timeout", 20.0)), policy=policy,
                   user_agent=c.get("user_agent", DEFAULT_USER_AGENT),
                   rate_limits={k: float(v) for k, v in (c.get("rates") or {}).items()}, **kw)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Http":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _limiter(self, host: str) -> RateLimiter:
        if host not in self._limiters:
            self._limiters[host] = RateLimiter(self.rate_limits.get(host, self.default_rate), clock=self.clock,
                                              sleep=self.sleep)
        return self._limiters[host]

    def _wait(self, seconds: float) -> None:
        if seconds > 0:  # tenacity sleeps through this too, so the waits are counted and tests need not sleep
            self.stats.waited_s += seconds
            self.sleep(seconds)

    def get(self, url: str, *, params: dict | None = None, headers: dict | None = None,
            ok: tuple[int, ...] = (200,)) -> httpx.Response:
        return self.request("GET", url, params=params, headers=headers, ok=ok)

    def post_json(self, url: str, payload: Any, *, headers: dict | None = None,
                  ok: tuple[int, ...] = (200, 201, 202, 204)) -> httpx.Response:
        return self.request("POST", url, json=payload, headers=headers, ok=ok)

    def request(self, method: str, url: str, *, ok: tuple[int, ...] = (200,), **kw) -> httpx.Response:
        """One request with tenacity doing the retrying: what is retried (`retryable`), how long to wait
        (`_backoff`: the server's Retry-After, else the policy's jittered exponential), when to stop."""
        host = urlsplit(url).netloc

        def attempt() -> httpx.Response:
            self.stats.waited_s += self._limiter(host).acquire()
            self.stats.requests += 1
            t0 = time.perf_counter()
            resp = self.client.request(method, url, **kw)
            log.debug("%s %s -> %d (%.2f s)", method, url, resp.status_code, time.perf_counter() - t0)
            self.stats.statuses[resp.status_code] = self.stats.statuses.get(resp.status_code, 0) + 1
            self._respect_weight(host, resp)
            if resp.status_code not in ok:
                raise _Status(resp)
            return resp

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts), wait=self._backoff,
            retry=tenacity.retry_if_exception(lambda e: retryable(e, self.policy)), sleep=self._wait,
            before_sleep=self._count_retry, reraise=True)
        try:
            return retrying(attempt)
        except _Status as exc:
            last = f"HTTP {exc.response.status_code}: {exc.response.text[:200]!r}"
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last = f"{type(exc).__name__}: {exc}" + (" (DNS: not retried)" if is_dns_failure(exc) else "")
        n = retrying.statistics.get("attempt_number", 1)
        raise FetchError(f"{method} {url} failed after {n} attempt(s): {last}")

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Status):
            after = retry_after(exc.response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.policy.max_retry_after)
        return self.policy.wait(state.attempt_number - 1, self.rng)

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("retry %d after %s (waiting %.1f s)", state.attempt_number, exc,
                 state.next_action.sleep if state.next_action else 0.0)

    def _respect_weight(self, host: str, resp: httpx.Response) -> None:
        limit = self.weight_limits.get(host)
        used = resp.headers.get("X-MBX-USED-WEIGHT-1M") or resp.headers.get("x-mbx-used-weight-1m")
        if not limit or not used:
            return
        try:
            used_n = int(used)
        except ValueError:
            return
        if used_n >= self.weight_pause_fraction * limit:
            now = time.time()
            self._wait(60.0 - (now % 60.0) + 0.5)


class _Status(Exception):
    """An answer with a status the caller did not accept (retried when the policy says so)."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def is_dns_failure(exc: BaseException) -> bool:
    """The host name did not resolve: no retry can fix that (a typo, no network, a blocked resolver)."""
    chain: set[int] = set()
    seen: BaseException | None = exc
    while seen is not None and id(seen) not in chain:  # a chain can loop back on itself
        if isinstance(seen, socket.gaierror):
            return True
        chain.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False


def retryable(exc: BaseException, policy: RetryPolicy) -> bool:
    """Timeouts, dropped connections and the policy's statuses (429, 5xx, ...) are retried; DNS failures,
    malformed URLs and other 4xx fail at once."""
    if isinstance(exc, _Status):
        return exc.response.status_code in policy.retry_statuses
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return False
    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
        return not is_dns_failure(exc)
    return False


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
