"""OKX v5 public `liquidation-orders` channel (one subscription per instType carries every instrument).

`{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP",
"instType":"SWAP","instFamily":..,"uly":..,"details":[{"bkPx","bkLoss","posSide","side","sz","ts","ccy"}]}]}`

Conventions (OKX v5 docs):
- `posSide` is the position closed (`long`/`short`); in one-way mode it is `net` and `side` (the forced
  order's side) tells: `sell` closes a long, `buy` a short. A `posSide` that contradicts `side` is
  quarantined.
- `sz` is in CONTRACTS: qty = sz x ctVal (ctVal in the base coin for linear swaps, e.g. 0.01 BTC for
  BTC-USDT-SWAP; in USD for inverse swaps, e.g. 100 USD for BTC-USD-SWAP, converted to coin at bkPx).
  Contract values come from OKX's instruments endpoint and ship in btcstress/data/okx_contract_values.csv;
  an instrument not listed there is quarantined ("unknown contract value"), never guessed.
- `bkPx` is the bankruptcy price; `ts` is ms as a string. No event id: the id is a deterministic hash.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from btcstress.parsers.common import Invalid, Parsed
from btcstress.parsers.liquidation_feed import TARGET, each, event, millis, parse_lines, positive, text_field

VENUE = "okx"
COVERAGE = ("OKX liquidation-orders: one subscription per instrument type; only instruments with a known "
            "contract value are counted (others quarantined); price is the bankruptcy price")
CONTRACTS_FILE = "data/okx_contract_values.csv"


@lru_cache(maxsize=1)
def contract_values() -> dict[str, tuple[float, str]]:
    """instId -> (ctVal, ctValCcy) from the packaged instruments file."""
    text = resources.files("btcstress").joinpath(CONTRACTS_FILE).read_text(encoding="utf-8")
    return {r["inst_id"]: (float(r["ct_val"]), r["ct_val_ccy"]) for r in csv.DictReader(io.StringIO(text))}


def parse(text: str, origin: str, *, contracts: dict[str, tuple[float, str]] | None = None) -> Parsed:
    contracts = contract_values() if contracts is None else contracts
    return parse_lines(text, origin, lambda out, line, msg, raw: _message(out, line, msg, raw, contracts))


def _message(out: Parsed, line: int, msg: dict, raw: str, contracts) -> None:
    arg = msg.get("arg") if isinstance(msg.get("arg"), dict) else {}
    if "event" in msg:
        out.skip(f"not a liquidation message (event={str(msg['event'])[:40]})")
        return
    if arg.get("channel") != "liquidation-orders":
        out.skip(f"not the liquidation-orders channel ({str(arg.get('channel'))[:40]})")
        return
    data = msg.get("data")
    if not isinstance(data, list):
        raise Invalid("data", None, "expected a list")
    for i, inst in enumerate(data):
        details = inst.get("details") if isinstance(inst, dict) else None
        if not isinstance(details, list):
            each(out, line, raw, lambda i=i: (_ for _ in ()).throw(
                Invalid(f"data[{i}].details", None, "missing field")))
            continue
        for j, d in enumerate(details):
            each(out, line, raw, lambda inst=inst, d=d, i=i, j=j: _one(out, line, inst, d, i, j, contracts))


def _one(out: Parsed, line: int, inst: dict, d, i: int, j: int, contracts) -> None:
    pre = f"data[{i}].details[{j}]."
    if not isinstance(d, dict):
        raise Invalid(pre.rstrip("."), None, "expected a JSON object")
    inst_id = text_field(inst, "instId", f"data[{i}].instId")
    price = positive(d, "bkPx", pre + "bkPx")
    sz = positive(d, "sz", pre + "sz")
    ts = millis(d, "ts", pre + "ts")
    order_side = text_field(d, "side", pre + "side")
    if order_side not in ("buy", "sell"):
        raise Invalid(pre + "side", order_side, "side must be buy or sell")
    pos_side = d.get("posSide") or "net"
    if not isinstance(pos_side, str):
        raise Invalid(pre + "posSide", str(pos_side)[:60], "posSide must be long, short or net")
    implied = "long" if order_side == "sell" else "short"
    if pos_side == "net":
        side = implied
    elif pos_side in ("long", "short"):
        if pos_side != implied:
            raise Invalid(pre + "posSide", pos_side, f"posSide {pos_side} contradicts order side {order_side}")
        side = pos_side
    else:
        raise Invalid(pre + "posSide", pos_side, "posSide must be long, short or net")
    if inst_id not in contracts:
        raise Invalid(f"data[{i}].instId", inst_id,
                      f"unknown contract value for {inst_id} ({inst.get('instType', '?')}): sz is in contracts; "
                      f"add the instrument's ctVal to {CONTRACTS_FILE}")
    ct_val, ct_ccy = contracts[inst_id]
    base = inst_id.split("-")[0]
    if ct_ccy in ("USD", "USDT", "USDC"):
        usd = sz * ct_val
        qty = usd / price
    else:
        if ct_ccy != base:
            raise Invalid(f"data[{i}].instId", inst_id, f"contract value currency {ct_ccy} is not the base {base}")
        qty = sz * ct_val
        usd = qty * price
    event(out, line, venue=VENUE, symbol=inst_id, asset=base, ts=ts, side=side, price=price, qty=qty, usd=usd,
          published=ts)


__all__ = ["COVERAGE", "TARGET", "VENUE", "contract_values", "parse"]
