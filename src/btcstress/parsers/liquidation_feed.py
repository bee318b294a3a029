"""What the venue liquidation parsers share: reading recorded JSON lines, validating the fields of one
liquidation, and building the normalised `liquidations` row.

A recorded feed file holds one raw websocket message per line, exactly as the venue sent it. Every
venue module (binance_force_order, bybit_liquidation, okx_liquidation) turns one message into zero or
more events with `event(...)`; venue quirks (which side means what, contracts vs coins) stay in the
venue's module. A malformed line or field is quarantined with its line and reason, never fatal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Callable, Iterator

from btcstress.parsers.common import Invalid, Parsed, epoch_unit, from_epoch, positive_value, strict_int

TARGET = "liquidations"
SIDES = ("long", "short")

# No venue in these feeds predates 2017; a liquidation later than a day from now is a unit error.
_EARLIEST = dt.datetime(2017, 1, 1)


MAX_MESSAGE = 1 << 20  # bytes; the venues' largest real messages are a few KiB


def messages(text: str, out: Parsed) -> Iterator[tuple[int, Any, str]]:
    """(line number, decoded JSON, raw line) for each non-blank line; bad JSON is quarantined."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        out.lines_in += 1
        if len(raw) > MAX_MESSAGE:
            out.refuse(TARGET, lineno, Invalid("json", raw[:60], f"message longer than {MAX_MESSAGE} bytes"),
                       raw[:1000])
            continue
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as exc:
            out.refuse(TARGET, lineno, Invalid("json", raw[:60], f"not valid JSON ({exc.msg} at column {exc.colno})"),
                       raw)
            continue
        except RecursionError:
            out.refuse(TARGET, lineno, Invalid("json", raw[:60], "JSON nested too deeply"), raw[:1000])
            continue
        if not isinstance(msg, dict):
            out.refuse(TARGET, lineno, Invalid("json", raw[:60], "a message must be a JSON object"), raw)
            continue
        yield lineno, msg, raw


def parse_lines(text: str, origin: str, one: Callable[[Parsed, int, dict, str], None]) -> Parsed:
    """Run a venue's `one(out, line, message, raw)` on every message of a recorded feed.

    A message of an unexpected shape (a list where a string belongs, an object where a number does)
    is quarantined with its line, never fatal: one bad frame must not stop a file or a live stream.
    """
    out = Parsed(origin=origin)
    for line, msg, raw in messages(text, out):
        before = len(out.quarantine)
        seen = (len(out.rows.get(TARGET, ())), sum(out.skipped.values()))
        try:
            one(out, line, msg, raw)
        except Invalid as exc:
            out.refuse(TARGET, line, exc, raw)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
            if len(out.quarantine) == before:
                out.refuse(TARGET, line, Invalid("*", None, f"malformed message ({type(exc).__name__})"), raw)
        if len(out.quarantine) == before and seen == (len(out.rows.get(TARGET, ())), sum(out.skipped.values())):
            out.skip("a liquidation message with no events in it")  # every line is accounted for
    return out


def text_field(obj: Any, name: str, path: str, max_len: int = 64) -> str:
    """A string field (a symbol, a side): present, a string, and short."""
    v = field(obj, name, path)
    if not isinstance(v, str):
        raise Invalid(path, str(v)[:60], "expected a string")
    if len(v) > max_len:
        raise Invalid(path, v[:40] + "...", f"longer than {max_len} characters")
    return v


def field(obj: Any, name: str, path: str) -> Any:
    """obj[name], or Invalid naming the full path when it is missing."""
    if not isinstance(obj, dict) or name not in obj or obj[name] is None or obj[name] == "":
        raise Invalid(path, None, "missing field")
    return obj[name]


def positive(obj: Any, name: str, path: str) -> float:
    return positive_value(field(obj, name, path), path)


def millis(obj: Any, name: str, path: str) -> dt.datetime:
    """An epoch-milliseconds field (int or numeric string) -> naive UTC datetime."""
    raw = field(obj, name, path)
    try:
        v = strict_int(raw, path)
    except Invalid:
        raise Invalid(path, str(raw)[:60], "not an integer timestamp") from None
    try:
        unit = epoch_unit(v)
    except ValueError:
        raise Invalid(path, raw, "not an epoch timestamp") from None
    if unit != "ms":
        raise Invalid(path, raw, f"timestamp in {unit}, expected milliseconds")
    ts = from_epoch(v, "ms")
    latest = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
    if not _EARLIEST <= ts <= latest:
        raise Invalid(path, raw, f"timestamp out of range [{_EARLIEST:%Y-%m-%d}, {latest:%Y-%m-%d}]")
    return ts


def event_id(venue: str, symbol: str, ts: dt.datetime, price: float, qty: float, side: str) -> str:
    """A deterministic id for a venue event that has none: replays of the same message map to the
    same row, so recording a stream twice never duplicates it."""
    key = f"{venue}|{symbol}|{ts.isoformat()}|{price:.12g}|{qty:.12g}|{side}"
    return "h:" + hashlib.sha256(key.encode()).hexdigest()[:20]


def event(out: Parsed, line: int, *, venue: str, symbol: str, asset: str, ts: dt.datetime, side: str,
          price: float, qty: float, usd: float, published: dt.datetime, raw_id: str | None = None) -> None:
    if side not in SIDES:
        raise Invalid("side", side, "side of the liquidated position must be long or short")
    out.add(TARGET, {"venue": venue, "symbol": symbol, "ts": ts,
                     "id": raw_id if raw_id else event_id(venue, symbol, ts, price, qty, side),
                     "asset": asset, "side": side, "price": price, "qty": qty, "usd": usd, "raw_id": raw_id,
                     "available_at": max(published, ts), "_line": line})


def each(out: Parsed, line: int, raw: str, fn: Callable[[], None]) -> None:
    """Run one event's extraction; a field that fails validation quarantines that event only."""
    try:
        fn()
    except Invalid as exc:
        out.refuse(TARGET, line, exc, raw)
