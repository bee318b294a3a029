"""Backtest of the liquidation model on crash days: estimated vs realized long liquidations.

For each day D: as of D 00:00 UTC (what was known at the start of the day: D-1's open interest,
leverage ratio and close), the shock is D's low vs D-1's close (CryptoQuant composite), and the
model's long liquidations from D-1's close down to D's low are compared with the realized BTC long
liquidations of day D (liquidations_daily, CryptoQuant, all exchanges). No cascade: the realized
low already contains whatever cascade happened.

The model is run with at_risk_share_of_oi = 1 ("raw"); the estimate scales linearly with that
share, so the calibrated estimate is raw x share. The share the defaults use is fitted here as the
geometric mean of realized / raw over the days; the leave-one-out column fits it on the other days
only, which is the honest out-of-sample error.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from btcstress.config import end_of_day
from btcstress.metrics.context import Context
from btcstress.scenario import book as bk
from btcstress.metrics import scenario_inputs as inp
from btcstress.scenario.params import DEFAULTS
from btcstress.store import Store

CRASH_DAYS = ("2020-03-12", "2021-05-19", "2022-11-09", "2024-08-05", "2025-10-10", "2026-02-05")


@dataclass
class Row:
    day: str
    prev_close: float
    low: float
    shock_pct: float
    open_interest_usd: float
    leverage_scale: float
    raw_usd: float  # estimate with at_risk_share_of_oi = 1
    realized_usd: float
    calibrated_usd: float | None = None  # raw x the share fitted on all days
    loo_usd: float | None = None  # raw x the share fitted on the other days

    @property
    def raw_ratio(self) -> float:
        return self.raw_usd / self.realized_usd


def _day_row(store: Store, day: str, p: dict) -> Row:
    d = dt.date.fromisoformat(day)
    # The book as it stood at the start of day D, built from what was known once day D-1's daily rows
    # were all published (D 07:00 since CryptoQuant's publication lag; it was D 00:00 before): the
    # hourly bars of D itself before that instant are the crash, not the book, so they are left out.
    t = end_of_day(str(d - dt.timedelta(days=1)))
    ctx = Context(store=store, as_of=t)
    i = inp.read(ctx, p)
    if i.bar_dates and "(partial" in i.bar_dates[-1]:
        i.bars = bk.Bars(low=i.bars.low[:-1], high=i.bars.high[:-1], close=i.bars.close[:-1],
                         weight=i.bars.weight[:-1])
    c = store.table("candles")
    bar = c.filter((c.venue == "cryptoquant") & (c.symbol == "BTC-USD") & (c.interval == "1d")
                   & (c.open_time == dt.datetime(d.year, d.month, d.day))).execute()
    liq = store.table("liquidations_daily")
    realized = liq.filter((liq.asset == "BTC") & (liq.date == d) & liq.long_usd.notnull()).long_usd.max().execute()
    if bar.empty or realized is None:
        raise ValueError(f"{day}: no daily bar or no realized long liquidations in the store")
    low, prev = float(bar["low"].iloc[0]), i.last_close
    draws = bk.draw(i.bars, p["leverage_buckets"], int(p["n_positions"]), int(p["seed"]))
    b = bk.build(i.bars, draws, buckets=p["leverage_buckets"], leverage_scale=i.leverage_scale,
                 max_leverage=float(p["max_leverage"]), maintenance_margin=float(p["maintenance_margin"]),
                 current=prev, open_interest_usd=i.open_interest_usd)
    return Row(day=day, prev_close=prev, low=low, shock_pct=(low / prev - 1) * 100, open_interest_usd=i.open_interest_usd,
               leverage_scale=i.leverage_scale, raw_usd=b.liquidated_usd(low), realized_usd=float(realized))


def run(store: Store, days: tuple[str, ...] = CRASH_DAYS, params: dict[str, Any] | None = None) -> dict[str, Any]:
    p = {**DEFAULTS, **(params or {})}
    rows = [_day_row(store, d, p) for d in days]
    logs = [math.log(r.realized_usd / r.raw_usd) for r in rows]
    share = math.exp(sum(logs) / len(logs))
    for k, r in enumerate(rows):
        r.calibrated_usd = r.raw_usd * share
        others = logs[:k] + logs[k + 1:]
        r.loo_usd = r.raw_usd * math.exp(sum(others) / len(others)) if others else None

    def male(est: list[float]) -> float:
        return sum(abs(math.log(e / r.realized_usd)) for e, r in zip(est, rows)) / len(rows)

    return {"rows": rows, "fitted_share": share,
            "male_raw": male([r.raw_usd for r in rows]),
            "male_calibrated": male([r.calibrated_usd for r in rows]),
            "male_loo": male([r.loo_usd for r in rows]) if len(rows) > 1 else None,
            "params": {k: p[k] for k in ("n_positions", "seed", "entry_window_days", "entry_half_life_days",
                                         "leverage_buckets", "maintenance_margin", "scale_by_leverage_ratio")}}


def markdown(result: dict[str, Any]) -> str:
    def b(x: float) -> str:
        return f"{x / 1e9:,.2f}"

    lines = ["| day | prev close | low | shock | open interest ($B) | leverage scale | realized longs ($B) | "
             "model raw ($B) | raw / realized | calibrated ($B) | calibrated / realized | leave-one-out ($B) | "
             "LOO / realized |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r.day} | {r.prev_close:,.0f} | {r.low:,.0f} | {r.shock_pct:.1f}% | {b(r.open_interest_usd)} | "
                     f"{r.leverage_scale:.2f} | {b(r.realized_usd)} | {b(r.raw_usd)} | {r.raw_ratio:.2f} | "
                     f"{b(r.calibrated_usd)} | {r.calibrated_usd / r.realized_usd:.2f} | {b(r.loo_usd)} | "
                     f"{r.loo_usd / r.realized_usd:.2f} |")
    lines.append("")
    lines.append(f"Fitted at_risk_share_of_oi (geometric mean of realized / raw): {result['fitted_share']:.4f}. "
                 f"Mean absolute log error (natural log; factor in brackets): raw {result['male_raw']:.2f} "
                 f"(x{math.exp(result['male_raw']):.1f}), calibrated in-sample {result['male_calibrated']:.2f} "
                 f"(x{math.exp(result['male_calibrated']):.1f}), leave-one-out {result['male_loo']:.2f} "
                 f"(x{math.exp(result['male_loo']):.1f}).")
    return "\n".join(lines)
