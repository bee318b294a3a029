"""The snapshot's derived all-crypto market cap: TOTAL = TOTAL3 / (1 - (BTC.D + ETH.D) / 100), from
TradingView's CRYPTOCAP indices (no direct TOTAL series is public in the snapshot). Its total3 and
dominance columns are the inputs of that formula and come in through their own TradingView files;
here we keep the outputs: total, and the implied BTC and ETH caps."""

from __future__ import annotations

from btcstress.parsers.common import Invalid, Parsed, day, number, read_csv

SCOPES = {"total_mcap_usd_close": "total", "btc_mcap_usd_close_implied": "btc_implied",
          "eth_mcap_usd_close_implied": "eth_implied"}


def parse(text: str, origin: str) -> Parsed:
    out = Parsed(origin=origin)
    for line, row, raw in read_csv(text, origin, ("date", *SCOPES)):
        out.lines_in += 1
        try:
            d = day(row, "date")
            values = {scope: number(row, col, positive=True) for col, scope in SCOPES.items()}
        except Invalid as exc:
            out.refuse("market_cap_daily", line, exc, raw)
            continue
        for scope, v in values.items():
            out.add("market_cap_daily", {"date": d, "scope": scope, "cap_usd": v, "_line": line})
    return out
