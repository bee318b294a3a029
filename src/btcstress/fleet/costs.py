"""Like-for-like cost definitions over a simulated fleet. Pure functions, no store.

Per BTC, at a stated power price P (USD/kWh), for the machines running that day:

- electricity  = kWh per BTC at the wall (J/TH x PUE x network TH-seconds per BTC / 3.6e6) x P
- cash         = kWh per BTC x (P + non-energy opex per kWh)
- all_in       = cash + depreciation of the running machines per BTC (straight line, sourced schedule)
- marginal     = cash cost of the least efficient generation still running

A generation's own cost per BTC is what one BTC costs when mined with it: the machine's share of the
hashrate cancels (it earns share x issuance and spends share x hashrate x J/TH). The network's cost is
the hashrate-weighted mean over generations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from btcstress.fleet.simulate import J_PER_KWH, SECONDS_PER_DAY, Fleet

BASES = ("electricity", "cash", "all_in")


@dataclass
class CostCurve:
    """The running fleet on one day, priced. `share` sums to 1 over generations."""

    date: dt.date
    names: list[str]
    j_per_th: np.ndarray
    share: np.ndarray
    kwh_per_btc: np.ndarray  # at the wall, PUE included, per generation
    depreciation_usd_per_btc: np.ndarray  # per generation (running machines only)
    power_price_usd_kwh: float
    non_energy_opex_usd_kwh: float
    thsec_per_btc: float
    running_th: float
    network_power_gw: float
    unpriced_share: float  # share of running hashrate bought within the write-off period without a price

    def electricity(self, power_price: float | None = None) -> np.ndarray:
        pp = self.power_price_usd_kwh if power_price is None else power_price
        return self.kwh_per_btc * pp

    def cash(self, power_price: float | None = None) -> np.ndarray:
        pp = self.power_price_usd_kwh if power_price is None else power_price
        return self.kwh_per_btc * (pp + self.non_energy_opex_usd_kwh)

    def all_in(self, power_price: float | None = None) -> np.ndarray:
        return self.cash(power_price) + self.depreciation_usd_per_btc

    def cost(self, basis: str, power_price: float | None = None) -> np.ndarray:
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, not {basis!r}")
        return getattr(self, basis)(power_price)

    def weighted(self, values: np.ndarray) -> float:
        return float((values * self.share).sum())

    def in_service(self) -> np.ndarray:
        return self.share > 1e-9

    @property
    def fleet_j_per_th(self) -> float:
        return self.weighted(self.j_per_th)

    def least_efficient(self) -> int:
        return int(np.argmax(np.where(self.in_service(), self.j_per_th, -np.inf)))

    def most_efficient(self) -> int:
        return int(np.argmin(np.where(self.in_service(), self.j_per_th, np.inf)))

    def marginal(self, power_price: float | None = None) -> float:
        """Cash cost per BTC of the least efficient generation still running."""
        return float(self.cash(power_price)[self.least_efficient()])

    def rows(self, power_price: float | None = None) -> list[dict]:
        """The cost curve: running generations from cheapest to dearest all-in, with cumulative share."""
        allin, cash, elec = self.all_in(power_price), self.cash(power_price), self.electricity(power_price)
        cum, out = 0.0, []
        for i in [i for i in np.argsort(allin, kind="stable") if self.share[i] > 1e-9]:
            cum += self.share[i]
            out.append({"generation": self.names[i], "j_per_th": round(float(self.j_per_th[i]), 1),
                        "share_pct": round(100 * float(self.share[i]), 2), "cum_share_pct": round(100 * float(cum), 2),
                        "electricity_usd_per_btc": round(float(elec[i]), 0), "cash_usd_per_btc": round(float(cash[i]), 0),
                        "depreciation_usd_per_btc": round(float(self.depreciation_usd_per_btc[i]), 0),
                        "all_in_usd_per_btc": round(float(allin[i]), 0)})
        return out


def curve(fleet: Fleet, i: int, p: dict) -> CostCurve:
    """The priced fleet on row `i` of the simulation."""
    run = fleet.running_th[i]
    total = run.sum()
    share = run / total if total > 0 else np.zeros_like(run)
    j = fleet.j_per_th
    thsec = float(fleet.thsec_per_btc[i])
    kwh = thsec * j * p["pue"] / J_PER_KWH
    th_days_per_btc = thsec / SECONDS_PER_DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        dep_th_day = np.where(run > 0, fleet.depreciation_usd_day[i] / run, 0.0)
    return CostCurve(date=fleet.dates[i], names=fleet.names, j_per_th=j, share=share, kwh_per_btc=kwh,
                     depreciation_usd_per_btc=dep_th_day * th_days_per_btc,
                     power_price_usd_kwh=float(p["power_price_usd_kwh"]),
                     non_energy_opex_usd_kwh=float(p["non_energy_opex_usd_kwh"]), thsec_per_btc=thsec,
                     running_th=float(total), network_power_gw=float((run * j).sum() * p["pue"] / 1e9),
                     unpriced_share=float(fleet.unpriced_th[i].sum() / total) if total > 0 else 0.0)


def underwater(c: CostCurve, price: float, power_prices: list[float] | tuple[float, ...] | None = None,
               *, basis: str = "all_in") -> dict[float, dict[str, Any]]:
    """Share of running hashrate whose cost per BTC (on `basis`) is above `price`, by power price and
    by generation: {power_price: {"total_pct": x, "by_generation": {name: {share_pct, cost_usd_per_btc,
    underwater}}}}. Pure (the scenario engine calls it at any price)."""
    out: dict[float, dict[str, Any]] = {}
    for pp in (list(power_prices) if power_prices else [c.power_price_usd_kwh]):
        cost = c.cost(basis, pp)
        under = cost > price
        by = {c.names[i]: {"share_pct": 100 * float(c.share[i]), "cost_usd_per_btc": float(cost[i]),
                           "underwater": bool(under[i])} for i in range(len(c.names)) if c.share[i] > 1e-9}
        out[pp] = {"total_pct": underwater_pct(c, price, pp, basis), "by_generation": by}
    return out


def underwater_pct(c: CostCurve, price: float, power_price: float, basis: str = "all_in") -> float:
    """Share of running hashrate (pct) whose cost per BTC on `basis` at `power_price` is above `price`."""
    return 100 * float(c.share[c.cost(basis, power_price) > price].sum())


def history(fleet: Fleet, p: dict, close: np.ndarray | None = None) -> pd.DataFrame:
    """Per day: network power (GW), fleet J/TH, and electricity / cash / all-in / marginal cost per BTC at
    the base power price (electricity and all-in also at the low and high sensitivity prices)."""
    run = fleet.running_th
    total = run.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = run / total[:, None]
        j = fleet.j_per_th
        kwh = fleet.thsec_per_btc[:, None] * j[None, :] * p["pue"] / J_PER_KWH
        dep_btc = fleet.depreciation_usd_day.sum(axis=1) / fleet.btc_per_day
    kwh_w = (kwh * share).sum(axis=1)
    out = pd.DataFrame({"date": pd.to_datetime(fleet.dates)})
    if close is not None:
        out["close"] = close
    out["network_power_gw"] = (run * j[None, :]).sum(axis=1) * p["pue"] / 1e9
    out["fleet_j_per_th"] = (share * j[None, :]).sum(axis=1)
    opex = p["non_energy_opex_usd_kwh"]
    for label, pp in (("", p["power_price_usd_kwh"]), ("_low", p["power_price_low_usd_kwh"]),
                      ("_high", p["power_price_high_usd_kwh"])):
        out[f"electricity{label}"] = kwh_w * pp
        out[f"all_in{label}"] = kwh_w * (pp + opex) + dep_btc
    out["cash"] = kwh_w * (p["power_price_usd_kwh"] + opex)
    worst = np.where(run > 1e-9, j[None, :], -np.inf).argmax(axis=1)
    out["marginal"] = kwh[np.arange(len(worst)), worst] * (p["power_price_usd_kwh"] + opex)
    return out
