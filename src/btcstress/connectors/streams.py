"""Liquidation websockets (Binance USD-M `!forceOrder@arr`, Bybit v5 `allLiquidation.{symbol}`, OKX v5
`liquidation-orders`): connect, subscribe, keep alive, reconnect, keep every raw message, normalise.

- Heartbeats, per venue documentation: Binance's server pings every few minutes and the client's
  library answers with pongs (websockets does; it also pings, which Binance accepts); Bybit wants an
  application `{"op":"ping"}` at least every 20 s; OKX wants the text `ping` when nothing arrived for
  under 30 s and answers `pong`. A stream silent for longer than `silence_timeout` is treated as dead
  and reconnected.
- Reconnects are websockets' own (`async for ws in connect(...)`), with exponential backoff and jitter
  (`http.RetryPolicy`), forever until stopped; every failed attempt is reported, and each outage is
  stored in `stream_gaps` (from the last message before the drop to the reconnect, or to now while
  it lasts, so a stream that never opens is recorded too) because
  the venues offer no history to backfill liquidations from: the coverage notes can say when the
  stream was blind.
- No duplicates across reconnects: the parsers give every event a deterministic id (the venue's own or
  a hash of venue, symbol, time, price, quantity, side), the store upserts by key, and a batch
  collapses repeats of one event (keeping its earliest publication) before it is written.
- Raw capture: every message (heartbeats excepted) is appended as one line to a gzip JSONL file per
  venue per UTC hour, `data/raw/<venue>/<YYYY-MM-DD>/<venue>-<YYYY-MM-DDTHH>.jsonl.gz`, exactly as
  received, so `btcstress monitor --replay` (and `ingest events`) can replay it. A stored event's
  origin is `stream:<venue>/<file name>` and a quarantined message's line is its line in that file
  (connectors/raw.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from btcstress.connectors.base import now_utc, section
from btcstress.connectors.http import RetryPolicy
from btcstress.connectors.raw import RawRecorder, count_lines, read_lines, replay_files  # noqa: F401 (re-exported)
from btcstress.parsers import binance_force_order, bybit_liquidation, okx_liquidation
from btcstress.parsers.common import Parsed
from btcstress.store import Store, UpsertResult

TARGET = "liquidations"
PARSERS: dict[str, Callable[[str, str], Parsed]] = {
    "binance": binance_force_order.parse,
    "bybit": bybit_liquidation.parse,
    "okx": okx_liquidation.parse,
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "binance": {"ws_url": "wss://fstream.binance.com"},
    "bybit": {"ws_url": "wss://stream.bybit.com/v5/public/linear", "symbols": ["BTCUSDT", "ETHUSDT"]},
    "okx": {"ws_url": "wss://ws.okx.com:8443/ws/v5/public", "inst_types": ["SWAP", "FUTURES"]},
}


@dataclass(frozen=True)
class StreamSpec:
    venue: str
    url: str
    subscribe: tuple[str, ...] = ()
    ping_text: str | None = None  # application-level ping, sent every ping_every seconds
    ping_every: float = 20.0
    protocol_ping: float | None = 60.0  # websocket ping frames (None: off)
    silence_timeout: float = 120.0


def specs(conf: dict[str, Any] | None = None) -> dict[str, StreamSpec]:
    """The three venues' streams from the config's `sources.<venue>` sections (URLs overridable)."""
    b = {**DEFAULTS["binance"], **section(conf, "binance")}
    y = {**DEFAULTS["bybit"], **section(conf, "bybit")}
    o = {**DEFAULTS["okx"], **section(conf, "okx")}
    return {
        "binance": StreamSpec("binance", b.get("ws_stream_url") or b["ws_url"].rstrip("/") + "/ws/!forceOrder@arr",
                              silence_timeout=float(b.get("silence_timeout", 600.0))),
        "bybit": StreamSpec("bybit", y["ws_url"],
                            subscribe=(json.dumps({"op": "subscribe",
                                                   "args": [f"allLiquidation.{s}" for s in y["symbols"]]}),),
                            ping_text=json.dumps({"op": "ping"}), ping_every=float(y.get("ping_every", 20.0)),
                            silence_timeout=float(y.get("silence_timeout", 60.0))),
        "okx": StreamSpec("okx", o["ws_url"],
                          subscribe=(json.dumps({"op": "subscribe", "args": [
                              {"channel": "liquidation-orders", "instType": t} for t in o["inst_types"]]}),),
                          ping_text="ping", ping_every=float(o.get("ping_every", 25.0)), protocol_ping=None,
                          silence_timeout=float(o.get("silence_timeout", 60.0))),
    }


def is_heartbeat(venue: str, raw: str) -> bool:
    """A pong (or ping) that carries no market data: not recorded, not parsed."""
    s = raw.strip()
    if s in ("pong", "ping"):
        return True
    if venue == "bybit" and s.startswith("{") and ('"ping"' in s or '"pong"' in s):
        try:
            m = json.loads(s)
        except (json.JSONDecodeError, RecursionError):
            return False
        return isinstance(m, dict) and (m.get("op") in ("ping", "pong") or m.get("ret_msg") == "pong")
    return False


def sniff_venue(raw: str) -> str | None:
    """Which venue a recorded message came from, by its shape (for replaying mixed files)."""
    try:
        m = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(m, dict):
        return None
    if "topic" in m or m.get("op") in ("subscribe", "ping", "pong") or "ret_msg" in m:
        return "bybit"
    if "arg" in m or "event" in m:
        return "okx"
    if "stream" in m or m.get("e") == "forceOrder" or "result" in m:
        return "binance"
    return None


def venue_of(path: Path) -> str | None:
    """A capture's venue from its path (data/raw/<venue>/... or a file named <venue>-...)."""
    for part in (path.name.split("-")[0], *[p for p in path.parts]):
        if part in PARSERS:
            return part
    return None


# -- normalising and buffering --------------------------------------------------------------------

@dataclass
class FlushResult:
    messages: int = 0
    events: int = 0
    duplicates: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    latest: dt.datetime | None = None  # the latest publication instant among the events flushed


@dataclass
class EventBuffer:
    """Parsed events waiting to be written, one per key (repeats collapse), plus refused messages."""

    rows: dict[tuple, dict] = field(default_factory=dict)
    quarantine: list[dict] = field(default_factory=list)
    messages: int = 0
    duplicates: int = 0
    skipped: int = 0
    latest: dt.datetime | None = None
    last_by_venue: dict[str, dt.datetime] = field(default_factory=dict)

    def add(self, venue: str, raw: str, origin: str, line: int) -> int:
        """Parse one raw message; returns how many events it carried."""
        parsed = PARSERS[venue](raw, origin)
        self.messages += 1
        self.skipped += sum(parsed.skipped.values())
        for q in parsed.quarantine:
            q["line"] = line
            self.quarantine.append(q)
        events = parsed.rows.get(TARGET, [])
        for r in events:
            r.pop("_line", None)
            key = (r["venue"], r["symbol"], r["ts"], r["id"])
            have = self.rows.get(key)
            if have is not None:
                self.duplicates += 1
                if r["available_at"] < have["available_at"]:
                    self.rows[key] = r
                continue
            self.rows[key] = r
            if self.latest is None or r["available_at"] > self.latest:
                self.latest = r["available_at"]
            lv = self.last_by_venue.get(venue)
            if lv is None or r["available_at"] > lv:
                self.last_by_venue[venue] = r["available_at"]
        return len(events)

    def __len__(self) -> int:
        return self.messages

    def flush(self, store: Store) -> FlushResult:
        res = FlushResult(messages=self.messages, events=len(self.rows), duplicates=self.duplicates,
                          latest=self.latest)
        with store.transaction():
            if self.rows:
                cols = ["venue", "symbol", "ts", "id", "asset", "side", "price", "qty", "usd", "raw_id", "origin",
                        "available_at"]
                rows = list(self.rows.values())
                t = pa.table({c: [r.get(c) for r in rows] for c in cols},
                             schema=pa.schema([(c, store_type(c)) for c in cols]))
                u: UpsertResult = store.upsert(TARGET, t)
                res.new, res.updated, res.unchanged = u.new, u.updated, u.unchanged
            if self.quarantine:
                res.quarantined = store.quarantine(self.quarantine)
            if self.last_by_venue:  # one upsert for all venues: it runs on every batch
                venues = sorted(self.last_by_venue)
                store.upsert("checkpoints", pa.table({
                    "source": ["stream"] * len(venues), "key": [f"last_event:{v}" for v in venues],
                    "value": [self.last_by_venue[v].isoformat() for v in venues], "detail": [None] * len(venues),
                    "origin": ["connector:stream"] * len(venues), "available_at": [now_utc()] * len(venues)},
                    schema=pa.schema([("source", pa.string()), ("key", pa.string()), ("value", pa.string()),
                                      ("detail", pa.string()), ("origin", pa.string()),
                                      ("available_at", pa.timestamp("us"))])))
        self.rows.clear()
        self.quarantine.clear()
        self.messages = self.duplicates = self.skipped = 0
        self.latest = None
        self.last_by_venue.clear()
        return res


_TYPES = {"ts": pa.timestamp("us"), "available_at": pa.timestamp("us"), "price": pa.float64(), "qty": pa.float64(),
          "usd": pa.float64()}


def store_type(col: str) -> pa.DataType:
    return _TYPES.get(col, pa.string())


def record_gap(store: Store, venue: str, started: dt.datetime, ended: dt.datetime, reason: str) -> None:
    store.upsert("stream_gaps", pa.table({
        "venue": [venue], "started": [started], "ended": [ended], "reason": [reason[:500]],
        "origin": [f"stream:{venue}"], "available_at": [ended]}))


# -- the live loop --------------------------------------------------------------------------------

OnMessage = Callable[[str, str, dt.datetime], None]  # (venue, raw, received at)
OnGap = Callable[[str, dt.datetime, dt.datetime, str], None]  # (venue, started, ended, reason)


@dataclass
class StreamStats:
    connects: int = 0
    messages: int = 0
    heartbeats_sent: int = 0
    gaps: int = 0
    failures: int = 0  # connection attempts that failed, and connections that dropped
    last_message_at: dt.datetime | None = None


OnError = Callable[[str, str], None]  # (venue, what failed)


async def run_stream(spec: StreamSpec, on_message: OnMessage, stop: asyncio.Event, *,
                     on_gap: OnGap | None = None, on_error: OnError | None = None, policy: RetryPolicy | None = None,
                     rng: random.Random | None = None, stats: StreamStats | None = None,
                     max_connects: int | None = None) -> StreamStats:
    """Keep one venue's stream connected until `stop` is set (or `max_connects` connections ended).

    Reconnecting is websockets' own (`async for ws in connect(...)`): it retries what its
    `process_exception` deems transient (network errors, timeouts, 5xx) with the delays we give it
    (`policy`), and raises what retrying cannot fix (a 4xx handshake, a bad URI). What it does not do
    is done here: every failure is told (`on_error`) and the time without data is reported as a gap
    (`on_gap`) while it lasts and when it ends, so a stream that never opens is never silent.

    Longer than 60 lines on purpose: the connect callback (`failed`), the reconnect loop (`pump_all`)
    and the shutdown share one outage state (`down`) and the stats; as separate functions they would
    pass that state around without being simpler to read."""
    import itertools

    from websockets.asyncio.client import connect
    from websockets.client import process_exception as transient
    from websockets.exceptions import ConnectionClosed, InvalidURI

    policy = policy or RetryPolicy(attempts=10**9, backoff=1.0, max_backoff=60.0)
    rng = rng or random.Random()
    stats = stats or StreamStats()
    down: dict[str, Any] = {"since": None, "reason": ""}

    def went_down(reason: str, *, record: bool) -> None:
        stats.failures += 1
        if down["since"] is None:
            down["since"] = stats.last_message_at or now_utc()
            stats.gaps += 1
        down["reason"] = reason
        if on_error is not None:
            on_error(spec.venue, reason)
        if record and on_gap is not None:  # the gap so far (same start: the store upserts it, extending its end)
            on_gap(spec.venue, down["since"], now_utc(), reason)

    def failed(exc: Exception) -> Exception | None:
        verdict = transient(exc)
        went_down(f"connect failed{'' if verdict is None else ' (not retried)'}: {type(exc).__name__}: {exc}",
                  record=True)
        return verdict

    async def pump_all() -> None:
        quick_drops = 0
        async for ws in connect(spec.url, open_timeout=10, ping_interval=spec.protocol_ping, ping_timeout=20,
                                close_timeout=5, max_size=2**23, process_exception=failed,
                                reconnect_delays=lambda: (policy.wait(i, rng) for i in itertools.count())):
            stats.connects += 1
            opened = asyncio.get_running_loop().time()
            try:
                for sub in spec.subscribe:
                    await ws.send(sub)
                if down["since"] is not None:
                    if on_gap is not None:
                        on_gap(spec.venue, down["since"], now_utc(), down["reason"])
                    down["since"] = None
                reason = await _pump(ws, spec, on_message, stop, stats)
            except ConnectionClosed as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if stop.is_set() or (max_connects is not None and stats.connects >= max_connects):
                return
            went_down(reason, record=False)  # recorded when it reconnects, or while connecting fails
            # websockets reconnects at once after a connection that opened; a server that accepts and
            # drops at once would make that a busy loop, so drops in quick succession back off here.
            quick_drops = quick_drops + 1 if asyncio.get_running_loop().time() - opened < 10 else 0
            if quick_drops:
                await asyncio.sleep(policy.wait(quick_drops - 1, rng))

    task = asyncio.create_task(pump_all())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except InvalidURI:
            raise
        except Exception as exc:  # not retryable (went_down already told and recorded it): give up this venue
            if on_error is not None:
                on_error(spec.venue, f"gave up: {type(exc).__name__}: {exc}")
    if down["since"] is not None and on_gap is not None:
        on_gap(spec.venue, down["since"], now_utc(), down["reason"])
    return stats


async def _pump(ws, spec: StreamSpec, on_message: OnMessage, stop: asyncio.Event, stats: StreamStats) -> str:
    """Read until the connection drops, goes silent, or stop is set; returns why it ended."""
    loop = asyncio.get_running_loop()
    last_in = loop.time()
    last_ping = loop.time()
    while not stop.is_set():
        now = loop.time()
        if spec.ping_text is not None and now - last_ping >= spec.ping_every:
            await ws.send(spec.ping_text)
            stats.heartbeats_sent += 1
            last_ping = now
        timeout = min(0.25, spec.ping_every if spec.ping_text else 0.25)
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=timeout)
        except asyncio.TimeoutError:
            if loop.time() - last_in > spec.silence_timeout:
                await ws.close()
                return f"silent for more than {spec.silence_timeout:.0f} s"
            continue
        last_in = loop.time()
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode("utf-8", errors="replace")
        if is_heartbeat(spec.venue, raw):
            continue
        stats.messages += 1
        at = now_utc()
        stats.last_message_at = at
        on_message(spec.venue, raw, at)
    return ""


__all__ = ["EventBuffer", "FlushResult", "PARSERS", "RawRecorder", "StreamSpec", "StreamStats", "is_heartbeat",
           "read_lines", "record_gap", "replay_files", "run_stream", "sniff_venue", "specs", "venue_of"]
