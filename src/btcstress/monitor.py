"""The monitor: live (or replayed) data in, findings recomputed where they changed, alert rules out.

Rules come from a YAML file, a list (or `rules:` holding a list) of
    - name: btc-liquidations-24h
      finding: liquidations.total_usd   # a finding id (public contract)
      subject: BTC                      # optional: only this subject
      window: 24h                       # optional: only findings whose window starts with this
      op: ">"                           # > < >= <=
      value: 100000000
      cooldown: 15m                     # seconds, or 30s / 15m / 2h / 1d
A rule fires when a computed (not cited) finding matches and its value satisfies `op value`, then
stays quiet for `cooldown` (on the monitor's clock) for that subject and window. An alert is one JSON
object, written as a line to stdout, appended to a file, and POSTed to a webhook (with retries).

How it stays fast: messages are parsed and buffered as they come; the buffer is written to the store
every `batch_messages` messages or `batch_ms` milliseconds (one transaction), and findings are
recomputed at most every `recompute_ms`, and only for the metric areas whose tables changed and that
some rule reads. Which source feeds which area is declared by the areas (`pulls`, `streams` in
btcstress.areas): a liquidation message dirties `leverage`; a Binance kline pull dirties `price` (and
the areas valued at the price), `market` and `leverage`; mempool -> `miners`; Farside -> `etf`; EDGAR
-> `treasuries`.

The clock: live, as-of is now; in replay it is the latest publication instant among the events seen
(the stream's own time), so a recorded stream's trailing-24 h findings are those of the moment it was
recorded, and cooldowns follow the recording, not the wall clock.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from btcstress import areas as registry
from btcstress.connectors.base import now_utc
from btcstress.connectors.streams import EventBuffer, FlushResult, RawRecorder, read_lines, sniff_venue, venue_of
from btcstress.delivery import WebhookSink  # noqa: F401  (re-exported: a monitor sink)
from btcstress.errors import BtcstressError, InputError
from btcstress.findings import Finding, iso
from btcstress.metrics.context import Context
from btcstress.store import Store

OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, "<": operator.lt, ">=": operator.ge,
                                                  "<=": operator.le}
# Which area computes a finding, which areas move with the price (`priced`) and which live source
# dirties which area all come from the area registry (btcstress.areas).


def area_of(finding_id: str) -> str | None:
    """The monitored area that emits `finding_id` (by its first segment), or None."""
    a = registry.of_finding(finding_id)
    return a.name if a is not None and a.monitored else None


# -- rules ----------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*\d+(?:\.\d+)?\s*[smhd]?\s*$")  # what the rules file documents; pandas parses it


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    finding: str
    subject: str | None = None
    window: str | None = None
    op: Literal[">", "<", ">=", "<="]
    value: float
    cooldown: float = 0.0  # seconds

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        if v is None:
            return 0.0
        if isinstance(v, (int, float)):
            if v < 0:
                raise ValueError("cooldown must be >= 0")
            return float(v)
        text = str(v).strip()
        if not _DURATION.match(text):
            raise ValueError(f"cooldown {v!r}: expected seconds or e.g. 30s, 15m, 2h, 1d")
        import pandas as pd
        return pd.Timedelta(text if text[-1].isalpha() else text + "s").total_seconds()

    @property
    def area(self) -> str | None:
        return area_of(self.finding)

    def matches(self, f: Finding) -> bool:
        return (f.id == self.finding and f.kind != "cited" and (self.subject is None or f.subject == self.subject)
                and (self.window is None or f.window.startswith(self.window))
                and isinstance(f.value, (int, float)) and not isinstance(f.value, bool) and math.isfinite(f.value))

    def holds(self, value: float) -> bool:
        return OPS[self.op](float(value), self.value)


def load_rules(path: Path | str) -> list[Rule]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"rules file {p} not found") from None
    except IsADirectoryError:
        raise InputError(f"rules file {p} is a folder") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"rules file {p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"rules file {p}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where else ""
        raise InputError(f"rules file {p}: not valid YAML{at} ({getattr(exc, 'problem', None) or 'syntax'})") from None
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list) or not data:
        raise InputError(f"rules file {p}: expected a list of rules (or `rules:` holding one)")
    rules = []
    for i, item in enumerate(data, start=1):
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "rule"
            raise InputError(f"rules file {p}: rule {i}: {where}: {first['msg']}") from None
    names = [r.name for r in rules]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"rules file {p}: duplicate rule name(s) {dup}")
    validate(rules, where=f"rules file {p}")
    return rules


def validate(rules: list[Rule], *, where: str = "rules") -> None:
    """Every rule's finding must be an id in the finding catalogue (btcstress.areas: declared by the
    area that computes it, checked against the metric code by tests/test_catalogue.py) and one the
    monitor recomputes: a typo under a valid prefix would otherwise never fire."""
    from btcstress.envelope import did_you_mean
    known = {i: a.name for i, (_, a) in registry.catalogue().items() if area_of(i) is not None}
    problems = []
    for n, r in enumerate(rules, start=1):
        if r.finding not in known:
            area = area_of(r.finding)
            what = (f"no metric area computes {r.finding!r}" if area is None else
                    f"the {area} area emits no finding {r.finding!r}")
            problems.append(f"rule {n} ({r.name}): {what}{did_you_mean(r.finding, known)}")
    if problems:
        raise InputError(f"{where}: " + "; ".join(problems) + " (`btcstress ids` lists the finding ids)")


# -- sinks ----------------------------------------------------------------------------------------

class StdoutSink:
    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream

    def emit(self, alert: dict) -> None:
        s = self.stream or sys.stdout
        s.write(json.dumps(alert, separators=(",", ":"), allow_nan=False) + "\n")
        s.flush()


class FileSink:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, alert: dict) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert, separators=(",", ":"), allow_nan=False) + "\n")


# The webhook sink delivers off the event loop with a bounded queue and dead letters: btcstress.delivery.


# -- the monitor ----------------------------------------------------------------------------------

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


def alert(rule: Rule, f: Finding, at: dt.datetime) -> dict:
    return {"type": "alert", "rule": rule.name, "message": message(rule, f), "finding": f.id, "subject": f.subject,
            "window": f.window, "op": rule.op, "threshold": rule.value, "value": f.value, "unit": f.unit,
            "as_of": iso(at), "fired_at": iso(dt.datetime.now(dt.timezone.utc)), "method": f.method, "note": f.note,
            "sources": [s.model_dump(mode="json") for s in f.sources]}


def message(rule: Rule, f: Finding) -> str:
    """One line a human reads: 'BTC liquidations.total_usd 24h $26.4k > $20k [rule btc-liq-24h]'."""
    from btcstress.brief.fmt import text
    style = "usd_short" if f.unit == "USD" else f.unit
    shown = lambda v: text(float(v), style)  # noqa: E731
    window = f" {f.window}" if f.window else ""
    return f"{f.subject} {f.id}{window} {shown(f.value)} {rule.op} {shown(rule.value)} [rule {rule.name}]"


def payload(a: dict, fmt: str = "json") -> dict:
    """What a webhook receives: the alert as is ("json"), or with Slack's `text` field first ("slack":
    Slack, Mattermost and Discord's Slack-compatible endpoints show `text` and ignore the rest)."""
    if fmt == "slack":
        return {"text": a["message"], **a}
    return a


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank, as the benchmarks report latencies)."""
    if not values:
        return None
    import numpy as np
    return float(np.percentile(values, q, method="nearest"))


# -- live -----------------------------------------------------------------------------------------

FINAL_FLUSH_WAIT = 60.0
PULL_EVERY = {"binance": 60.0, "mempool": 600.0, "farside": 900.0, "edgar": 3600.0}


async def run_live(monitor: Monitor, *, venues: list[str], pulls: list[str], conf: dict[str, Any] | None = None,
                   since: dt.datetime | None = None, duration: float | None = None,
                   intervals: dict[str, float] | None = None, stop=None, reconnect=None) -> MonitorStats:
    """Run the venues' websockets and the periodic pulls until `duration` seconds pass (or forever)."""
    import asyncio
    import threading

    from btcstress import connectors
    from btcstress.connectors.streams import run_stream, specs

    stop = stop or asyncio.Event()
    if monitor.lock is None:
        monitor.lock = threading.Lock()
    all_specs = specs(conf)
    unknown = [v for v in venues if v not in all_specs]
    if unknown:
        raise InputError(f"unknown venue(s) {unknown}; known: {', '.join(all_specs)}")
    every = {**PULL_EVERY, **(intervals or {})}
    loop = asyncio.get_running_loop()
    monitor.announce((["liquidations"] if venues else []) + list(pulls))

    def on_error(venue: str, what: str) -> None:
        monitor.log(f"{venue}: {what}")

    def on_message(venue: str, raw: str, at: dt.datetime) -> None:
        # A malformed frame is quarantined by its parser; anything else that goes wrong with one
        # message (the store busy, a disk error) is logged and the stream goes on: the buffer keeps
        # what it could not write and the next flush retries it.
        try:
            monitor.message(venue, raw, received=at)
        except Exception as exc:  # noqa: BLE001 - one message must never stop the monitor
            monitor.stats.errors += 1
            monitor.log(f"{venue}: message not processed ({type(exc).__name__}: {str(exc)[:200]})")

    def on_gap(venue: str, started: dt.datetime, ended: dt.datetime, reason: str) -> None:
        monitor.log(f"{venue}: stream gap {started:%H:%M:%S}..{ended:%H:%M:%S}Z recorded ({reason})")
        monitor.gaps.append((venue, started, ended, reason))  # written with the next batch, never skipped

    def pull_once(name: str) -> None:
        with monitor.lock:
            store = monitor.opener() if monitor.opener is not None else monitor.store
            try:
                reps = connectors.run(store, [name], since=since or (now_utc() - dt.timedelta(days=3)), conf=conf)
            finally:
                if monitor.opener is not None:
                    store.close()
        for r in reps:
            if r.error:
                monitor.log(f"{name}: {r.error}")
            elif r.stored:
                loop.call_soon_threadsafe(monitor.pulled, name)

    async def puller(name: str) -> None:
        while not stop.is_set():
            await asyncio.to_thread(pull_once, name)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every[name])
            except asyncio.TimeoutError:
                pass

    async def ticker() -> None:
        while not stop.is_set():
            try:
                monitor.tick()
            except Exception as exc:  # noqa: BLE001 - a failed recompute is logged; the next tick retries
                monitor.stats.errors += 1
                monitor.log(f"tick: {type(exc).__name__}: {str(exc)[:200]}")
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            except asyncio.TimeoutError:
                pass

    tasks = [asyncio.create_task(run_stream(all_specs[v], on_message, stop, on_gap=on_gap, on_error=on_error,
                                                    policy=reconnect))
             for v in venues]
    tasks += [asyncio.create_task(puller(p)) for p in pulls]
    tasks.append(asyncio.create_task(ticker()))
    installed = _stop_on_signals(loop, stop)
    failed: list[BaseException] = []
    try:
        # Until --duration passes, a signal sets `stop`, or a task fails (a bad URL): then every task
        # gets STOP_GRACE seconds to end and is cancelled (a pull stuck in a slow request keeps its
        # thread, not the monitor).
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait([waiter, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        waiter.cancel()
        done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for t in pending:
            t.cancel()
        failed = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    finally:
        stop.set()
        for sig in installed:
            loop.remove_signal_handler(sig)
        monitor.flush(final=True)
        if monitor.recorder is not None:
            monitor.recorder.close()
    if failed:
        raise failed[0]
    return monitor.stats


STOP_GRACE = 5.0


def _stop_on_signals(loop, stop) -> list:
    """SIGTERM (a service stop) and SIGINT (Ctrl-C) set `stop`: the monitor flushes and closes."""
    import signal
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    return installed
