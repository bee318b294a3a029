"""The state the endpoints share (store path, parameters, one lock, the caches), injected with `Depends(service)`."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from cachetools import LRUCache, cached
from fastapi import Request

from btcstress.findings import FindingSet, iso

log = logging.getLogger(__name__)


class LRU:
    """A thread-safe LRU with single-flight (one computation per key however many ask), on cachetools:
    its LRUCache evicts, and its `cached` with a Condition makes concurrent misses for one key wait for
    the first one's result instead of computing it again. `peek` answers from the cache only."""

    def __init__(self, size: int):
        self.size = size
        self.data: LRUCache = LRUCache(maxsize=max(1, size))
        self.cond = threading.Condition()
        self.peek_hits = self.uncached = 0
        self._get = cached(self.data, key=lambda key, make: key, condition=self.cond, info=True)(
            lambda key, make: make())

    def peek(self, key) -> Any:
        with self.cond:
            value = self.data.get(key)
            if value is not None:
                self.peek_hits += 1
            return value

    def get(self, key, make: Callable[[], Any]) -> Any:
        if self.size <= 0:  # caching off: every call computes
            self.uncached += 1
            return make()
        return self._get(key, make)

    def clear(self) -> None:
        with self.cond:
            self.data.clear()

    def stats(self) -> dict[str, int]:
        info = self._get.cache_info()
        return {"size": self.size, "entries": len(self.data), "hits": info.hits + self.peek_hits,
                "misses": info.misses + self.uncached}


class Service:
    """What the endpoints share: the store path, the parameters, one lock, the caches."""

    def __init__(self, db: str | os.PathLike | None, *, params: dict | None = None, cache_size: int = 64,
                 token: str | None = None, workers: int = 2, queue: int = 8):
        from btcstress.api.guard import Admission
        from btcstress.store import default_db_path
        self.admission = Admission(workers=workers, queue=queue)
        self.db = Path(db) if db is not None else default_db_path()
        self.params = params or {}
        self.token = token or None
        self.lock = threading.RLock()
        self.findings_cache = LRU(cache_size)
        self.response_cache = LRU(cache_size * 4)
        self.computations = 0
        # (store version, what read-only opens of that version keep: Store.keep, e.g. the stress index at
        # past day ends, so the dashboard stepping through hours does not recompute them)
        self._kept: tuple[tuple, dict] = ((), {})

    def version(self) -> tuple:
        """Changes whenever the store file changes (an ingest, a cite)."""
        parts = []
        for p in (self.db, self.db.with_name(self.db.name + ".wal")):
            try:
                st = p.stat()
                parts.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                parts.append(None)
        return tuple(parts)

    @contextmanager
    def store(self, *, write: bool = False):
        """The store, opened for this access and closed after it. While another process writes (an
        ingest's transaction, a monitor's batch) the open is retried for STORE_WAIT seconds, then
        StoreBusyError (503 with Retry-After)."""
        from btcstress.store import Store, StoreBusyError
        with self.lock:
            deadline = time.monotonic() + STORE_WAIT
            while True:
                before = self.version()
                try:
                    s = Store(self.db, read_only=not write)
                    break
                except StoreBusyError:
                    if time.monotonic() > deadline:
                        log.warning("store %s still busy after %.0f s: answering 503", self.db, STORE_WAIT)
                        raise
                    time.sleep(0.1)
            if not write and self.version() == before:  # unchanged while opening: share this version's kept results
                if self._kept[0] != before:
                    self._kept = (before, {})
                s.share_kept(self._kept[1])
            try:
                yield s
            finally:
                s.close()

    def findings(self, as_of: dt.datetime, price: float | None = None, *, series: bool = False,
                 stored: bool = True) -> FindingSet:
        """All findings as of an instant (with chart series at the observed price): the snapshot `ingest`
        stored at a day instant when it is fresh (history/snapshots.py; `stored=False` never takes it), else
        computed, one computation per instant shared by every caller. `FindingSet.served` says which."""
        version = self.version()
        key = (version, as_of, price)
        why = None  # why the stored snapshot does not answer, when it was looked for
        if price is None:
            series = True  # the dashboard asks for findings, series and the brief of one instant together
            if stored:
                fs, why = self.findings_cache.get((*key, "snapshot"), lambda: self._snapshot(as_of))
                if fs is not None:
                    return fs
        if not series:  # a set computed with series answers a question without them
            hit = self.findings_cache.peek((*key, True))
            if hit is not None:
                return hit

        def make() -> FindingSet:
            from btcstress import metrics
            with self.admission.admit(), self.store() as s:
                self.computations += 1
                t0 = time.perf_counter()
                fs = metrics.compute(s, as_of, params=self.params, price=price, with_series=series)
            fs.served = "computed (" + ("hypothetical price" if price is not None else why
                                        or "the stored snapshot not asked") + ")"
            log.info("findings as of %s computed in %.1f s (price %s, series %s; cache miss %d)", as_of,
                     time.perf_counter() - t0, price, series, self.computations)
            return fs

        return self.findings_cache.get((*key, series), make)

    def _snapshot(self, as_of: dt.datetime) -> tuple[FindingSet | None, str]:
        """(the fresh stored snapshot at as_of, how) or (None, why not): history/snapshots.load."""
        from btcstress.history import snapshots
        with self.admission.admit(), self.store() as s:
            t0 = time.perf_counter()
            fs, how = snapshots.load(s, as_of, params=self.params)
        if fs is not None:
            fs.served = how
            log.info("findings as of %s: %s, read in %.3f s", as_of, how, time.perf_counter() - t0)
        return fs, how

    def served(self, as_of: dt.datetime, price: float | None = None, *, derive: bool = False,
               areas: tuple[str, ...] | None = None):
        """The findings as GET /findings answers them (history.served): the materialised areas read from
        finding_history when it is fresh and as_of is on the grid; the others from this instant's cached
        computation (`findings`: with series, so with the stress episodes the dashboard draws, and
        shared with /series and /brief); `how` says which, per area."""
        from btcstress import areas as registry
        from btcstress.history import served
        from btcstress.store import utc_naive
        wanted = tuple(a for a in registry.names() if areas is None or a in areas)

        def make():
            with self.admission.admit(), self.store() as s:
                t0 = time.perf_counter()
                stored, why_not = served.stored_areas(s, as_of, wanted, params=self.params, price=price,
                                                      derive=derive)
                part = served.merge(s, utc_naive(as_of), tuple(stored), stored, why_not, None) if stored else None
            log.info("findings as of %s: %d areas read from finding_history in %.3f s", as_of, len(stored),
                     time.perf_counter() - t0)
            return stored, why_not, part
        stored, why_not, part = self.findings_cache.get((self.version(), as_of, "stored", price, derive, wanted), make)
        # The areas not read from finding_history: from the instant's stored snapshot when a fresh one
        # answers (it holds them as computed, with their derivation), else computed; derive computes.
        computed = self.findings(as_of, price, stored=not derive) if len(stored) < len(wanted) else None
        whole = computed.served if computed is not None and (computed.served or "").startswith("stored") else None
        how = {a: part.how[a] if a in stored else whole or f"computed ({why_not[a]})" for a in wanted}
        out = [f for a in wanted for f in (
            [f for f in part.fs if registry.of_finding(f.id).name == a] if a in stored
            else [f for f in computed if registry.of_finding(f.id).name == a])]
        fs = FindingSet(computed.as_of if computed is not None else part.fs.as_of, out,
                        computed.series if computed is not None else {}, computed.params if computed is not None else {})
        return served.Served(fs, how)

    def cached_response(self, key: tuple, make: Callable[[], Any]) -> Any:
        return self.response_cache.get((self.version(), *key), make)

    async def answer(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A cached response straight from the event loop; anything else computes in a worker thread."""
        hit = self.response_cache.peek((self.version(), *key)) if self.response_cache.size > 0 else None
        if hit is not None:
            return hit
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(self.cached_response, key, make)

    async def coverage_nowait(self) -> dict[str, Any]:
        """/health's data coverage without waiting for a computation: the cached answer, else one
        attempt on its own thread while the store lock is free, else "busy"."""
        import asyncio
        hit = self.response_cache.peek((self.version(), "coverage")) if self.response_cache.size > 0 else None
        if hit is not None:
            return hit

        def attempt():
            if not self.lock.acquire(blocking=False):
                return None
            try:
                return self.coverage()
            finally:
                self.lock.release()
        loop = asyncio.get_running_loop()
        try:
            got = await asyncio.wait_for(loop.run_in_executor(_HEALTH_POOL, attempt), timeout=2.0)
        except asyncio.TimeoutError:
            got = None
        return got if got is not None else {"first": None, "last": None, "busy": True}

    def coverage(self) -> dict[str, Any]:
        def make():
            with self.store() as s:
                c = s.table("candles")
                first, last = c.open_time.min().execute(), c.available_at.max().execute()
            import pandas as pd
            if first is None or pd.isna(first):
                return {"first": None, "last": None}
            return {"first": iso(pd.Timestamp(first).to_pydatetime()), "last": iso(pd.Timestamp(last).to_pydatetime())}
        return self.cached_response(("coverage",), make)

    def latest(self) -> dt.datetime:
        """The latest data: when the store's newest price bar was published (what "now" answers at)."""
        last = self.coverage()["last"]
        if last is None:
            from btcstress.errors import NoDataError
            raise NoDataError("the store holds no price data: run `btcstress ingest snapshot` first")
        return dt.datetime.fromisoformat(last)

    def events(self) -> list[dict[str, Any]]:
        """Named dates, each with `published`: the first instant at which every daily row dated that day
        is published (the latest available_at over the daily tables' rows of the day; None when the store
        has no daily row of that day), and `instant`, where a jump to the day lands: `published`, or, with
        none, the day's instant on the grid (D+1 07:00 UTC, `calendar.DAY_END`: when a day's daily rows
        are published by rule), the one rule `--date`, histories and finding_history use. So a jump lands
        where the day's data are all known, not before (ETF flows and Artemis rows arrive the next day)."""
        from btcstress.history.calendar import DAY_END

        def make():
            with self.store() as s:
                e = s.table("events").order_by("date").execute()
                published = dict(s.duck.execute(_PUBLISHED_SQL).fetchall())
            out = []
            for r in e.itertuples():
                day = pd.Timestamp(r.date).date()
                pub = _iso_z(published.get(day))
                grid = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()) + DAY_END
                out.append({"date": str(r.date)[:10], "id": r.id, "title": r.title, "category": r.category,
                            "published": pub, "instant": pub or _iso_z(grid)})
            return out
        return self.cached_response(("events",), make)

    def clear(self) -> None:
        self.findings_cache.clear()
        self.response_cache.clear()


STORE_WAIT = 5.0  # seconds a request waits for a writing process to release the store
_HEALTH_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")


def service(request: Request) -> Service:
    """The app's Service (a FastAPI dependency: `svc: Service = Depends(service)`)."""
    return request.app.state.service


# The daily tables whose rows a brief reads for a day (date column, extra filter).
_DAILY_TABLES = (("candles", "CAST(open_time AS DATE)", "interval = '1d'"), ("market_cap_daily", "date", None),
                 ("indicators_daily", "date", None), ("network_daily", "date", None),
                 ("miner_flows_daily", "date", None), ("liquidations_daily", "date", None),
                 ("derivatives_daily", "date", None), ("etf_flows", "date", None), ("etf_aum", "date", None),
                 ("treasury_valuation_daily", "date", None))
_PUBLISHED_SQL = ("SELECT e.date, max(p.published) FROM events e JOIN (" + " UNION ALL ".join(
    f"SELECT {col} AS day, max(available_at) AS published FROM {t}" + (f" WHERE {w}" if w else "") + f" GROUP BY {col}"
    for t, col, w in _DAILY_TABLES) + ") p ON p.day = e.date GROUP BY e.date")


def _iso_z(ts) -> str | None:
    return None if ts is None else pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")
