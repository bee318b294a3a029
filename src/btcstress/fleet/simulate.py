"""The vintage simulation: which machines run each day, constrained by what is observed.

Pure: a daily frame and parameters in, arrays out (no store, no context). Each day, using only data
up to that day:

1. Machines sit at power prices spread evenly between two sourced ends (`tier_power_low_usd_kwh` ..
   `tier_power_high_usd_kwh`, `power_tiers` steps): miners do not all pay one price.
2. Profitability rule: a machine can run while its cash cost per TH-day (kWh per TH-day at the wall x
   (its power price + non-energy opex)) is no higher than the revenue per TH-day (smoothed issuance x
   price / hashrate). Idle machines stay installed and come back when they pay again.
3. The observed network hashrate must be met. Machines that can run are used cheapest first (merit
   order of cash cost). If they are not enough, new machines of the newest released generation are
   installed (the deployment timeline: a generation is bought from its release), spread over the power
   prices at which they are profitable. If even the newest generation pays nowhere, the hashrate is
   still observed: the cheapest idle machines are counted as running, at a loss.
4. Depreciation: a machine bought on day D costs the latest sourced USD/TH on or before D and is written
   off straight-line over `depreciation_years`. The cost of the machines actually running is the
   written-off amount times the running share of the generation (running and idle machines are
   assumed to have the same vintage mix). Purchases before a generation's first price observation
   are not priced: their share is counted in `unpriced_th`, never filled in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from btcstress.fleet import data

SECONDS_PER_DAY = 86_400.0
J_PER_KWH = 3.6e6


@dataclass
class Fleet:
    """The simulated fleet: per day (rows) and generation (columns)."""

    dates: list[dt.date]
    generations: list[data.Generation]
    running_th: np.ndarray  # TH/s running
    installed_th: np.ndarray  # TH/s installed (running or idle)
    added_th: np.ndarray  # TH/s bought that day
    depreciation_usd_day: np.ndarray  # straight-line write-off of the running machines, USD/day
    unpriced_th: np.ndarray  # running TH/s bought within the write-off period without a sourced price
    thsec_per_btc: np.ndarray  # network TH x seconds per BTC issued (smoothed)
    btc_per_day: np.ndarray
    tiers: np.ndarray  # power prices of the tiers, USD/kWh
    at_a_loss_th: np.ndarray  # TH/s counted running although not profitable (per day)

    @property
    def j_per_th(self) -> np.ndarray:
        return np.array([g.j_per_th for g in self.generations])

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.generations]

    def head(self, n: int) -> "Fleet":
        """The fleet over its first `n` days: the simulation is causal, so this is what a run over
        those days alone gives."""
        return Fleet(dates=self.dates[:n], generations=self.generations, running_th=self.running_th[:n],
                     installed_th=self.installed_th[:n], added_th=self.added_th[:n],
                     depreciation_usd_day=self.depreciation_usd_day[:n], unpriced_th=self.unpriced_th[:n],
                     thsec_per_btc=self.thsec_per_btc[:n], btc_per_day=self.btc_per_day[:n], tiers=self.tiers,
                     at_a_loss_th=self.at_a_loss_th[:n])

    def index(self, day: dt.date) -> int:
        """Row of the last simulated day on or before `day`."""
        i = int(np.searchsorted(np.array(self.dates, dtype="datetime64[D]"), np.datetime64(day), side="right")) - 1
        if i < 0:
            raise KeyError(f"no simulated day on or before {day}")
        return i


def kwh_per_th_day(gens: list[data.Generation], pue: float) -> np.ndarray:
    return np.array([g.j_per_th for g in gens]) * SECONDS_PER_DAY / J_PER_KWH * pue


def simulate(days: pd.DataFrame, gens: list[data.Generation], p: dict) -> Fleet:
    """Run the fleet over `days` (columns date, h_th: smoothed hashrate TH/s, btc_per_day: smoothed
    issuance incl. fees, rev_th_day: smoothed USD revenue per TH per day, NaN without a price).

    The loop is over days (~4,000) with numpy over the generation x tier grid (<= 10 x 7): the day's
    merit order is a cumulative sum, not a Python loop over machines."""
    dates = [pd.Timestamp(d).date() for d in days["date"]]
    n, k, m = len(dates), len(gens), int(p["power_tiers"])
    h = days["h_th"].to_numpy(float)
    rev = days["rev_th_day"].to_numpy(float)
    tiers = np.linspace(float(p["tier_power_low_usd_kwh"]), float(p["tier_power_high_usd_kwh"]), m)
    cash = kwh_per_th_day(gens, p["pue"])[:, None] * (tiers[None, :] + p["non_energy_opex_usd_kwh"])  # (k, m)
    order = np.argsort(cash, axis=None, kind="stable")  # merit order over the flattened grid
    release = np.array([np.datetime64(g.release) for g in gens])
    cap = np.zeros((k, m))
    running, added, loss = np.zeros((n, k)), np.zeros((n, k)), np.zeros(n)
    for i in range(n):
        if not np.isfinite(h[i]) or h[i] <= 0:
            running[i] = running[i - 1] if i else 0
            continue
        released = release <= np.datetime64(dates[i])
        newest = int(np.nonzero(released)[0][-1]) if released.any() else 0
        able = cash <= rev[i] if np.isfinite(rev[i]) else np.ones_like(cash, bool)
        usable = cap * able
        short = h[i] - usable.sum()
        if short > 0:
            ok = able[newest] if able[newest].any() else np.zeros(m, bool)
            if ok.any():  # buy the newest generation where it pays, spread evenly over those power prices
                cap[newest, ok] += short / ok.sum()
                added[i, newest] += short
                usable = cap * able
        run = _fill(usable, order, h[i])
        left = h[i] - run.sum()
        if left > 1e-9:  # observed hashrate without a profitable machine for it: idle ones run at a loss
            extra = _fill(cap - run, order, left)
            loss[i] = extra.sum()
            run += extra
            left = h[i] - run.sum()
            if left > 1e-9:
                cap[newest, 0] += left
                added[i, newest] += left
                run[newest, 0] += left
        running[i] = run.sum(axis=1)
    installed = np.cumsum(added, axis=0)
    dep, unpriced = _depreciation(dates, gens, added, installed, running, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        thsec = h * SECONDS_PER_DAY / days["btc_per_day"].to_numpy(float)
    return Fleet(dates=dates, generations=gens, running_th=running, installed_th=installed, added_th=added,
                 depreciation_usd_day=dep, unpriced_th=unpriced, thsec_per_btc=thsec,
                 btc_per_day=days["btc_per_day"].to_numpy(float), tiers=tiers, at_a_loss_th=loss)


def _fill(capacity: np.ndarray, order: np.ndarray, need: float) -> np.ndarray:
    """Take `need` TH/s from `capacity` (generation x tier) in merit order."""
    flat = capacity.ravel()[order]
    before = np.cumsum(flat) - flat
    take = np.clip(need - before, 0.0, flat)
    out = np.zeros(capacity.size)
    out[order] = take
    return out.reshape(capacity.shape)


def _depreciation(dates, gens, added, installed, running, p) -> tuple[np.ndarray, np.ndarray]:
    n, k = added.shape
    life = max(1, int(round(float(p["depreciation_years"]) * 365.25)))
    price = np.full((n, k), np.nan)
    for j, g in enumerate(gens):
        pts = data.price_points(g.name)
        price[:, j] = [np.nan if (v := data.price_at(pts, d)) is None else v for d in dates]
    spend = np.where(np.isnan(price), 0.0, added * price)
    unp = np.where(np.isnan(price), added, 0.0)

    def window(x):  # sum over the last `life` days, inclusive
        c = np.cumsum(x, axis=0)
        return c - np.vstack([np.zeros((life, k)), c[:-life]])[:n]

    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(installed > 0, running / installed, 0.0)
    return window(spend) / life * share, window(unp) * share
