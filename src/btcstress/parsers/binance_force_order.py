"""Binance USD-M futures `forceOrder` liquidation stream (`<symbol>@forceOrder`, `!forceOrder@arr`).

One message per line, either the bare event `{"e":"forceOrder","E":..,"o":{..}}` or wrapped as a
combined-stream message `{"stream":"!forceOrder@arr","data":{..}}`.

Conventions (Binance's USD-M websocket documentation, "Liquidation Order Streams"):
- `o.S` is the side of the FORCED ORDER: SELL closes (liquidates) a long, BUY a short.
- `o.ap` is the average fill price, `o.z` the accumulated filled quantity in the base asset,
  `o.T` the trade time in ms; `E` is the push time. USD-M quotes are USDT/USDC, counted as USD.
- There is no order id in the stream: the event id is a deterministic hash (liquidation_feed.event_id).
- Coverage: the stream pushes at most the LATEST liquidation per symbol in each 1000 ms window, so
  counts and sums from it are lower bounds.
"""

from __future__ import annotations

import re

from btcstress.parsers.common import Invalid, Parsed
from btcstress.parsers.liquidation_feed import TARGET, each, event, field, millis, parse_lines, positive, text_field

VENUE = "binance-usdm"
COVERAGE = ("lower bound: Binance's forceOrder stream pushes at most the latest liquidation per symbol "
            "per second; price is the average fill price, USDT counted as USD")

# USD-M symbols: BASE + USDT/USDC/BUSD, optionally _YYMMDD for quarterlies. COIN-M (BTCUSD_PERP) is a
# different stream whose quantities are contracts, not coins.
_SYMBOL = re.compile(r"^(?P<base>[A-Z0-9]+?)(?:USDT|USDC|BUSD|FDUSD)(?:_\d{6})?$")
_SIDE = {"SELL": "long", "BUY": "short"}


def parse(text: str, origin: str) -> Parsed:
    return parse_lines(text, origin, _message)


def _message(out: Parsed, line: int, msg: dict, raw: str) -> None:
    payloads = msg.get("data", msg) if "stream" in msg else msg
    if isinstance(payloads, dict) and "e" not in payloads and ("result" in payloads or "id" in payloads):
        out.skip("not a liquidation message (subscription response)")
        return
    for i, payload in enumerate(payloads if isinstance(payloads, list) else [payloads]):
        prefix = f"data[{i}]." if isinstance(payloads, list) else ("data." if "stream" in msg else "")
        if isinstance(payload, dict) and payload.get("e") not in (None, "forceOrder"):
            out.skip(f"not a forceOrder event (e={str(payload.get('e'))[:40]})")
            continue
        each(out, line, raw, lambda p=payload, pre=prefix: _one(out, line, p, pre))


def _one(out: Parsed, line: int, payload: dict, pre: str) -> None:
    if not isinstance(payload, dict):
        raise Invalid(pre.rstrip(".") or "data", None, "expected a JSON object")
    o = field(payload, "o", pre + "o")
    symbol = text_field(o, "s", pre + "o.s")
    m = _SYMBOL.match(symbol)
    if not m:
        raise Invalid(pre + "o.s", symbol, "not a USD-M symbol (COIN-M quantities are contracts: not supported)")
    order_side = text_field(o, "S", pre + "o.S")
    if order_side not in _SIDE:
        raise Invalid(pre + "o.S", order_side, "order side must be BUY or SELL")
    price = positive(o, "ap", pre + "o.ap")
    qty = positive(o, "z", pre + "o.z")
    ts = millis(o, "T", pre + "o.T")
    published = millis(payload, "E", pre + "E") if "E" in payload else ts
    event(out, line, venue=VENUE, symbol=symbol, asset=m["base"], ts=ts, side=_SIDE[order_side],
          price=price, qty=qty, usd=price * qty, published=published)


__all__ = ["COVERAGE", "TARGET", "VENUE", "parse"]
