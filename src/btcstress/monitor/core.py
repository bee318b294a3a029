"""The monitor itself: messages buffered and written in batches, findings recomputed for the areas
whose tables changed (at most every `recompute_ms`), rules evaluated, alerts emitted; replay of
recorded streams on the stream's own clock."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from btcstress import areas as registry
from btcstress.connectors.base import now_utc
from btcstress.connectors.streams import EventBuffer, FlushResult, RawRecorder, read_lines, sniff_venue, venue_of
from btcstress.errors import BtcstressError, InputError
from btcstress.findings import Finding
from btcstress.metrics.context import Context
from btcstress.monitor.rules import Rule
from btcstress.monitor.sinks import alert
from btcstress.store import Store

FINAL_FLUSH_WAIT = 60.0


@dataclass
class MonitorStats:
    messages: int = 0
    events: int = 0
    duplicates: int = 0
    new: int = 0
    quarantined: int = 0
    flushes: int = 0
    recomputes: int = 0
    alerts: int = 0
    errors: int = 0  # messages that could not be processed (logged; the stream went on)
    recompute_s: float = 0.0
    store_s: float = 0.0
    parse_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)  # message arrival -> rules evaluated with it
    alert_latencies_s: list[float] = field(default_factory=list)  # arrival of the batch's first message -> alert


class Monitor:
    def __init__(self, store: Store, rules: list[Rule], sinks: Iterable[Any], *,
                 params: dict[str, dict[str, Any]] | None = None, batch_messages: int = 500,
                 batch_ms: float = 1000.0, recompute_ms: float = 1000.0, clock: Literal["stream", "wall"] = "wall",
                 recorder: RawRecorder | None = None, log: Callable[[str], None] | None = None,
                 track_latency: bool = False, lock: Any = None, opener: Callable[[], Store] | None = None):
        # With `opener`, the store is opened for each batch (write, recompute) and closed after it, so
        # other processes (the API, `findings`, an ingest) can open the file between batches; DuckDB lets
        # one process write, or many read. Without it, `store` is held open for the monitor's life.
        self.opener = opener
        self.store = store
        # Live, periodic pulls write from a worker thread: the monitor touches the store only when it
        # gets this lock without waiting, and keeps buffering otherwise (tick() retries).
        self.lock = lock
        self.rules = rules
        self.sinks = list(sinks)
        self.params = params or {}
        self.batch_messages = batch_messages
        self.batch_s = batch_ms / 1000.0
        self.recompute_s = recompute_ms / 1000.0
        self.clock = clock
        self.recorder = recorder
        self.log = log or (lambda m: None)
        self.track_latency = track_latency
        self.buffer = EventBuffer()
        self.stats = MonitorStats()
        self.dirty: set[str] = set()
        self.findings: dict[str, list[Finding]] = {}  # area -> its latest findings
        self.stream_clock: dt.datetime | None = None
        self._last_fired: dict[tuple[str, str, str], dt.datetime] = {}
        self._batch_started: float | None = None
        self._last_recompute = 0.0
        self._pending_arrivals: list[float] = []  # arrivals of messages stored but not yet evaluated
        self._batch_arrivals: list[float] = []
        self.wanted = {r.area for r in rules}
        self.gaps: list[tuple] = []  # stream outages waiting to be written (venue, started, ended, reason)
        self._seq = 0
        self._started = dt.datetime.now(dt.timezone.utc)
        self._told_no_value: set[str] = set()
        self.unevaluable: list[str] = []  # rules this run cannot evaluate (see announce)

    def announce(self, sources: Iterable[str]) -> list[str]:
        """Say, at the start of a run fed by `sources` (liquidations, binance, mempool, farside, edgar),
        which rules it can never evaluate because nothing it reads changes their area."""
        reach = {a for src in sources for a in registry.for_source(src)}
        if "price" in reach:
            reach.update(registry.priced())
        fed = ", ".join(sorted(set(sources))) or "nothing"
        self.unevaluable = [r.name for r in self.rules if r.area not in reach]
        for r in self.rules:
            if r.area not in reach:
                self.log(f"rule {r.name} ({r.finding}) cannot be evaluated in this run: it reads the {r.area} "
                         f"area, which this run ({fed}) never updates")
        return self.unevaluable

    # -- input ------------------------------------------------------------------------------------

    def message(self, venue: str, raw: str, *, origin: str | None = None, line: int | None = None,
                received: dt.datetime | None = None) -> None:
        """One raw stream message (live or replayed)."""
        arrived = time.perf_counter()
        if self.recorder is not None:
            origin, line = self.recorder.write(venue, raw, received or now_utc())
        t0 = time.perf_counter()
        if origin is None:  # no raw capture: number the messages of this run, so quarantined ones stay apart
            self._seq += 1
            origin, line = f"stream:{venue}@{self._started:%Y-%m-%dT%H:%M:%S}", self._seq
        self.buffer.add(venue, raw, origin, line or 0)
        self.stats.parse_s += time.perf_counter() - t0
        if self.track_latency:
            self._batch_arrivals.append(arrived)
        if self._batch_started is None:
            self._batch_started = arrived
        if len(self.buffer) >= self.batch_messages or arrived - self._batch_started >= self.batch_s:
            self.flush(final=False)

    def pulled(self, source: str) -> None:
        """A periodic pull stored something new from `source`: its areas need recomputing."""
        for a in registry.for_source(source):
            self.dirty.add(a)
        self._locked(lambda: self._evaluate(force=True))

    # -- batching ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Called periodically when live: write a batch that is due, evaluate what is dirty."""
        if self.gaps or (self._batch_started is not None and time.perf_counter() - self._batch_started >= self.batch_s):
            self.flush(final=False)
        elif self.dirty:
            self._locked(lambda: self._evaluate(force=False))

    def _locked(self, fn, wait: float = 0.0) -> bool:
        if self.lock is not None and not (self.lock.acquire(timeout=wait) if wait > 0 else
                                          self.lock.acquire(blocking=False)):
            return False
        try:
            return self._with_store(fn, wait)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _with_store(self, fn, wait: float) -> bool:
        """Run fn with the store open: held open, or opened for this batch (see `opener`). A store
        another process is reading or writing right now is retried on the next tick (the buffer keeps
        everything) or, for the final flush, waited for up to `wait` seconds."""
        if self.opener is None:
            fn()
            return True
        from btcstress.store import StoreBusyError, connect_wait
        try:
            with connect_wait(wait):
                self.store = self.opener()
        except StoreBusyError as exc:
            if wait:
                self.log(str(exc))
            return False
        try:
            fn()
        finally:
            self.store.close()
            self.store = None
        return True

    def flush(self, final: bool = True) -> FlushResult | None:
        """Write the buffer. The final flush (stop, SIGTERM, --duration) waits for a running pull to
        release the store, up to FINAL_FLUSH_WAIT seconds, rather than skip and lose the buffer."""
        out: list = []
        if not self._locked(lambda: out.append(self._flush(final)), wait=FINAL_FLUSH_WAIT if final else 0.0) and final:
            self.log(f"final flush: the store stayed busy for {FINAL_FLUSH_WAIT:g} s; "
                     f"{len(self.buffer)} buffered message(s) are in the raw capture, replay them")
        return out[0] if out else None

    def _flush(self, final: bool) -> FlushResult | None:
        from btcstress.connectors.streams import record_gap
        while self.gaps:
            record_gap(self.store, *self.gaps[0])
            self.gaps.pop(0)
        res = None
        if len(self.buffer):
            t0 = time.perf_counter()
            res = self.buffer.flush(self.store)
            self.stats.store_s += time.perf_counter() - t0
            self.stats.flushes += 1
            self.stats.messages += res.messages
            self.stats.events += res.events
            self.stats.duplicates += res.duplicates
            self.stats.new += res.new
            self.stats.quarantined += res.quarantined
            if res.latest is not None and (self.stream_clock is None or res.latest > self.stream_clock):
                self.stream_clock = res.latest
            # On the stream's clock (replay) a batch moves the as-of even when its events were stored by an
            # earlier run: storage is idempotent, evaluation is not skipped.
            if res.new or res.updated or (self.clock == "stream" and res.events):
                self.dirty.update(registry.for_source("liquidations"))
            if res.quarantined:
                self.log(f"{res.quarantined} message(s) quarantined (see `btcstress quarantine`)")
        self._pending_arrivals += self._batch_arrivals
        self._batch_arrivals = []
        self._batch_started = None
        self._evaluate(force=final)
        if self.recorder is not None:
            self.recorder.flush()
        return res

    def as_of(self) -> dt.datetime:
        if self.clock == "stream" and self.stream_clock is not None:
            return self.stream_clock.replace(tzinfo=dt.timezone.utc)
        return dt.datetime.now(dt.timezone.utc)

    def _areas_to_compute(self) -> list[str]:
        dirty = set(self.dirty)
        if "price" in dirty:
            dirty.update(registry.priced())
        todo = {a for a in dirty if a in self.wanted}
        return list(registry.closure(todo)) if todo else []

    def _evaluate(self, force: bool) -> None:
        now = time.perf_counter()
        if not self.dirty or (not force and now - self._last_recompute < self.recompute_s):
            return
        areas = self._areas_to_compute()
        self.dirty.clear()
        if areas:
            t0 = time.perf_counter()
            self.recompute(areas)
            self.stats.recompute_s += time.perf_counter() - t0
            self.stats.recomputes += 1
            self._check(areas)
        done = time.perf_counter()
        self._last_recompute = done
        if self.track_latency:
            self.stats.latencies_s += [done - a for a in self._pending_arrivals]
        self._pending_arrivals = []

    def recompute(self, areas: list[str]) -> None:
        """Recompute the findings of `areas` (in the registry's order) as of the monitor's clock."""
        ctx = Context(store=self.store, as_of=self.as_of(), params=self.params)
        for area in areas:
            mod = registry.get(area).module()
            try:
                found = mod.findings(ctx)
            except BtcstressError as exc:
                self.log(f"{area}: {exc}")
                continue
            ctx.findings.extend(found)
            self.findings[area] = found

    def _check(self, areas: list[str]) -> None:
        first_arrival = self._pending_arrivals[0] if self._pending_arrivals else None
        at = self.as_of()
        for rule in self.rules:
            if rule.area not in areas:
                continue
            self._tell_if_no_value(rule)
            for f in self.findings.get(rule.area, []):
                if not rule.matches(f) or not rule.holds(f.value):
                    continue
                key = (rule.name, f.subject, f.window)
                last = self._last_fired.get(key)
                if last is not None and (at - last).total_seconds() < rule.cooldown:
                    continue
                self._last_fired[key] = at
                self._emit(alert(rule, f, at))
                if self.track_latency and first_arrival is not None:
                    self.stats.alert_latencies_s.append(time.perf_counter() - first_arrival)

    def _tell_if_no_value(self, rule: Rule) -> None:
        """Once per rule: say when its finding was computed but has no value to compare (not available)."""
        if rule.name in self._told_no_value:
            return
        same = [f for f in self.findings.get(rule.area, []) if f.id == rule.finding and f.kind != "cited"
                and (rule.subject is None or f.subject == rule.subject)
                and (rule.window is None or f.window.startswith(rule.window))]
        if any(isinstance(f.value, (int, float)) and not isinstance(f.value, bool) for f in same):
            return
        self._told_no_value.add(rule.name)
        why = next((f.note for f in same if f.note), None) or (
            "no finding with that subject and window" if not same else "no numeric value")
        self.log(f"rule {rule.name}: {rule.finding} has no value to compare yet ({why})")

    def _emit(self, a: dict) -> None:
        self.stats.alerts += 1
        for s in self.sinks:
            s.emit(a)

    # -- replay -----------------------------------------------------------------------------------

    def replay(self, targets: Iterable[Path]) -> MonitorStats:
        """Feed recorded raw messages (capture files, fixtures; .jsonl or .jsonl.gz; folders) at full
        speed, then flush and evaluate once more."""
        from btcstress.connectors.streams import replay_files
        files = [f for t in targets for f in replay_files(Path(t))]
        if not files:
            raise InputError("nothing to replay: no .jsonl or .jsonl.gz files")
        self.announce(["liquidations"])
        try:
            self._replay(files)
        finally:  # stopped (SIGTERM, Ctrl-C) or done: what was read is written
            self.flush(final=True)
        return self.stats

    def _replay(self, files: list[Path]) -> None:
        for path in files:
            if not path.is_file():
                raise InputError(f"replay file {path} not found")
            hint = venue_of(path)
            captured = path.name.endswith(".jsonl.gz") and hint is not None and path.name.startswith(hint + "-")
            origin_for = (lambda v, p=path: f"stream:{v}/{p.name}") if captured else (lambda v, p=path: f"replay:{p.name}")
            for lineno, raw in enumerate(read_lines(path), start=1):
                if not raw.strip():
                    continue
                venue = hint or sniff_venue(raw)
                if venue is None:
                    # Cannot tell the venue (malformed): keep it in quarantine under the first venue's
                    # parser, which refuses it as JSON it cannot read.
                    venue = "binance"
                self.message(venue, raw, origin=origin_for(venue), line=lineno)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank, as the benchmarks report latencies)."""
    if not values:
        return None
    import numpy as np
    return float(np.percentile(values, q, method="nearest"))
