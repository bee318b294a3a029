"""Bybit v5 public liquidation topics: `allLiquidation.{symbol}` and the older `liquidation.{symbol}`.

- `allLiquidation`: `{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":..,"data":[{"T","s","S","v","p"}]}`,
  pushed every 500 ms with all liquidations of the symbol in that interval.
- `liquidation` (superseded by allLiquidation): `{"topic":"liquidation.BTCUSDT","ts":..,"data":
  {"updatedTime","symbol","side","size","price"}}`, at most one liquidation per second per symbol.

Conventions (Bybit v5 docs): `S`/`side` is the side of the LIQUIDATED POSITION as Bybit states it:
"Buy" means a long position was liquidated, "Sell" a short (the opposite of Binance's order side).
`p`/`price` is the bankruptcy price; `v`/`size` is the size: base coin for linear contracts (USDT/USDC,
BTCPERP), USD for inverse contracts (BTCUSD, BTCUSDH26), converted to coin at the bankruptcy price.
No event id: the id is a deterministic hash.
"""

from __future__ import annotations

import re

from btcstress.parsers.common import Invalid, Parsed
from btcstress.parsers.liquidation_feed import TARGET, each, event, millis, parse_lines, positive, text_field

VENUE = "bybit"
COVERAGE = ("Bybit allLiquidation pushes every liquidation in 500 ms batches (the older liquidation topic "
            "at most one per second per symbol, a lower bound); price is the bankruptcy price")

_LINEAR = re.compile(r"^(?P<base>[A-Z0-9]+?)(?:USDT|USDC|PERP)(?:-\d{2}[A-Z]{3}\d{2})?$"
                     r"|^(?P<base2>[A-Z0-9]+)-\d{2}[A-Z]{3}\d{2}$")
_INVERSE = re.compile(r"^(?P<base>[A-Z0-9]+?)USD(?:[FGHJKMNQUVXZ]\d{2})?$")
_SIDE = {"Buy": "long", "Sell": "short"}


def parse(text: str, origin: str) -> Parsed:
    return parse_lines(text, origin, _message)


def _message(out: Parsed, line: int, msg: dict, raw: str) -> None:
    topic = msg.get("topic")
    if topic is None:
        out.skip("not a liquidation message (no topic: subscription response or pong)")
        return
    if not isinstance(topic, str) or not topic.startswith(("allLiquidation.", "liquidation.")):
        out.skip(f"not a liquidation topic ({str(topic)[:40]})")
        return
    data = msg.get("data")
    if topic.startswith("allLiquidation."):
        if not isinstance(data, list):
            each(out, line, raw, lambda: _raise("data", str(data)[:60], "expected a list of liquidations"))
            return
        for i, item in enumerate(data):
            each(out, line, raw, lambda it=item, i=i: _one(out, line, msg, it, f"data[{i}].",
                                                          ("T", "s", "S", "v", "p")))
    else:
        each(out, line, raw, lambda: _one(out, line, msg, data, "data.",
                                          ("updatedTime", "symbol", "side", "size", "price")))


def _raise(path, value, reason):
    raise Invalid(path, value, reason)


def _one(out: Parsed, line: int, msg: dict, item, pre: str, names: tuple[str, ...]) -> None:
    t_name, s_name, side_name, size_name, price_name = names
    if not isinstance(item, dict):
        raise Invalid(pre.rstrip("."), None, "expected a JSON object")
    symbol = text_field(item, s_name, pre + s_name)
    side = text_field(item, side_name, pre + side_name)
    if side not in _SIDE:
        raise Invalid(pre + side_name, side, "position side must be Buy or Sell")
    price = positive(item, price_name, pre + price_name)
    size = positive(item, size_name, pre + size_name)
    ts = millis(item, t_name, pre + t_name)
    published = millis(msg, "ts", "ts") if "ts" in msg else ts
    if m := _LINEAR.match(symbol):
        asset, qty, usd = m["base"] or m["base2"], size, size * price
    elif m := _INVERSE.match(symbol):
        asset, qty, usd = m["base"], size / price, size
    else:
        raise Invalid(pre + s_name, symbol, "unknown contract type: cannot tell whether size is coin or USD")
    event(out, line, venue=VENUE, symbol=symbol, asset=asset, ts=ts, side=_SIDE[side], price=price, qty=qty,
          usd=usd, published=published)


__all__ = ["COVERAGE", "TARGET", "VENUE", "parse"]
