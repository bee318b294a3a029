"""mempool.space REST payloads -> network_daily (pure parsers; the fetch is connectors.mempool).

The metric names are the ones the miners area reads (metrics/miners.py NETWORK_METRICS, the same
canonical names as the CryptoQuant importer): hashrate_hs, difficulty, blocks, block_rewards_btc,
block_rewards_usd, fees_btc.

- `GET /api/v1/mining/hashrate/{period}` -> `{"hashrates":[{"timestamp": s, "avgHashrate": H/s}],
  "difficulty":[{"time": s, "height", "difficulty", "adjustment"}], "currentHashrate", "currentDifficulty"}`.
  hashrate_hs: mempool.space's daily estimate (H/s), one per UTC day. difficulty: the difficulty in
  force at the end of each of those days (the last adjustment at or before it; a day before the first
  adjustment in the payload is skipped, not guessed).
- `GET /api/v1/mining/blocks/fees?from=S&to=E` (seconds; with a span of a day or less mempool groups by
  the second, i.e. one row per block) -> `[{"avgHeight", "timestamp", "avgFees" (sats), "USD"}]`.
  For the UTC day D fetched from D 00:00:00 to D 23:59:59: blocks = rows, fees_btc = sum of fees,
  block_rewards_btc = sum of (subsidy + fees), the subsidy following from the height by the protocol
  (50 BTC halved every 210,000 blocks), block_rewards_usd = sum of (subsidy + fees) x the USD price
  mempool.space links to the block. Two blocks stamped in the same second would arrive as one row:
  detected by heights that are not whole, and refused.
"""

from __future__ import annotations

import datetime as dt
import json

from btcstress.errors import ParseError
from btcstress.parsers.common import EARLIEST_DATE, Invalid, Parsed, positive_value, strict_int

TARGET = "network_daily"
SATS = 100_000_000
HALVING_INTERVAL = 210_000


def subsidy_sats(height: int) -> int:
    """The block subsidy at a height (consensus rule): 50 BTC, halved every 210,000 blocks."""
    halvings = height // HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * SATS) >> halvings


def _json(text: str, origin: str):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(f"{origin}: not JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None


def _day_of(raw, field: str) -> dt.date:
    try:
        s = strict_int(raw, field)
    except Invalid:
        raise Invalid(field, raw, "not an integer epoch (seconds)") from None
    if not 1_230_000_000 <= s <= 10_000_000_000:
        raise Invalid(field, raw, "not an epoch in seconds")
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=s)).date()


def parse_hashrate(text: str, origin: str, *, complete_before: dt.date) -> Parsed:
    out = Parsed(origin=origin)
    data = _json(text, origin)
    if not isinstance(data, dict) or not isinstance(data.get("hashrates"), list):
        raise ParseError(f"{origin}: expected an object with a `hashrates` list")
    if not isinstance(data.get("difficulty") or [], list):
        raise ParseError(f"{origin}: `difficulty` is not a list")
    adjustments: list[tuple[int, float]] = []
    for i, a in enumerate(data.get("difficulty") or [], start=1):
        try:
            t = strict_int(a.get("time"), "difficulty.time") if isinstance(a, dict) else None
            if t is None:
                raise Invalid("difficulty.time", None, "missing field")
            adjustments.append((t, positive_value(a.get("difficulty"), "difficulty.difficulty")))
        except (Invalid, TypeError, ValueError) as exc:
            exc = exc if isinstance(exc, Invalid) else Invalid("difficulty.time", a, "not an integer epoch")
            out.refuse(TARGET, 10_000 + i, exc, a)
    adjustments.sort()
    seen_days: set[dt.date] = set()
    for i, h in enumerate(data["hashrates"], start=1):
        out.lines_in += 1
        try:
            if not isinstance(h, dict):
                raise Invalid("hashrates", h, "expected a JSON object")
            d = _day_of(h.get("timestamp"), "timestamp")
            if d < EARLIEST_DATE:
                raise Invalid("timestamp", h.get("timestamp"), "before the genesis block")
            hs = positive_value(h.get("avgHashrate"), "avgHashrate")
        except Invalid as exc:
            out.refuse(TARGET, i, exc, h)
            continue
        if d >= complete_before:
            out.skip("a day not over yet")
            continue
        if d in seen_days:
            out.skip("a second estimate for the same day (the first is kept)")
            continue
        seen_days.add(d)
        out.add(TARGET, {"date": d, "metric": "hashrate_hs", "value": hs, "_line": i})
        end = (dt.datetime(d.year, d.month, d.day) + dt.timedelta(days=1) - dt.datetime(1970, 1, 1)).total_seconds()
        in_force = [v for t, v in adjustments if t <= end]
        if in_force:
            out.add(TARGET, {"date": d, "metric": "difficulty", "value": in_force[-1], "_line": i})
        else:
            out.skip("no difficulty adjustment in the payload at or before the day")
    return out


def parse_day_blocks(text: str, origin: str, *, day: dt.date) -> Parsed:
    """One UTC day's blocks (one row each) -> blocks, fees_btc, block_rewards_btc, block_rewards_usd."""
    out = Parsed(origin=origin)
    data = _json(text, origin)
    if not isinstance(data, list):
        raise ParseError(f"{origin}: expected a JSON array of blocks")
    n, fees, rewards, usd, usd_ok = 0, 0, 0, 0.0, True
    heights: set[int] = set()
    bad = False
    for i, b in enumerate(data, start=1):
        out.lines_in += 1
        try:
            if not isinstance(b, dict):
                raise Invalid("*", b, "expected a JSON object")
            h = b.get("avgHeight")
            if not isinstance(h, int) or isinstance(h, bool) or h < 0:
                raise Invalid("avgHeight", h, "not a whole block height (two blocks in one second?)")
            if _day_of(b.get("timestamp"), "timestamp") != day:
                raise Invalid("timestamp", b.get("timestamp"), f"block outside the day asked for ({day})")
            f = b.get("avgFees")
            if not isinstance(f, int) or isinstance(f, bool) or f < 0:
                raise Invalid("avgFees", f, "not a whole number of sats >= 0")
            if h in heights:
                out.skip("a block listed twice")
                continue
        except Invalid as exc:
            out.refuse(TARGET, i, exc, b)
            bad = True
            continue
        heights.add(h)
        n += 1
        fees += f
        reward = subsidy_sats(h) + f
        rewards += reward
        price = b.get("USD")
        if isinstance(price, (int, float)) and not isinstance(price, bool) and 0 < price < float("inf"):
            usd += reward / SATS * float(price)
        else:
            usd_ok = False
    if bad:
        out.skip("day not stored: a block was refused, so the day's sums would be short")
        return out
    if n == 0:
        out.skip("no blocks in the payload for the day")
        return out
    rows = {"blocks": float(n), "fees_btc": fees / SATS, "block_rewards_btc": rewards / SATS}
    if usd_ok:
        rows["block_rewards_usd"] = usd
    for metric, value in rows.items():
        out.add(TARGET, {"date": day, "metric": metric, "value": value, "_line": 1})
    return out
