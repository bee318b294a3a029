"""Miner economics: a modelled production cost per BTC, margins, hashprice, miner reserves and
selling, the hash ribbon and the Puell multiple, as of any instant.

No public production-cost series exists in the data, so btcstress models it in the open:

- The fleet is a set of ASIC cohorts (generations), each with an efficiency E (J/TH), a release date
  and a price per TH. A vintage model assigns each day's hashrate to cohorts: growth goes to the
  newest released cohort, a fall in hashrate switches off the least efficient first, and a cohort whose
  electricity cost exceeds the revenue it earns (trailing `smoothing_days`) is retired — CBECI's
  "profitable equipment only" bound (docs/METRICS.md#miners).
- Energy per BTC for a machine of efficiency E = network hashrate x E x 86,400 s / BTC issued per day
  (the machine's share of the hashrate cancels out), x PUE. Electricity cost = energy x power price.
- All-in cost = electricity x non-energy opex multiplier + capex per BTC (price per TH amortised
  straight-line over `capex_amortisation_years`; capacity older than that carries none).

The heavy lifting over the store (pivots, moving windows, joins, trailing-year statistics) is Ibis
expressions; the vintage simulation is a small pure-Python loop over the resulting daily frame
(one row per day, ~4,000 rows), kept separate so it can be tested and reused by the scenario engine
(`cost_curve`, `underwater`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available

AREA = "miners"

# Every default is cited in docs/METRICS.md ("Miners: parameters"). Sensitivity bounds are choices
# for the grid, not estimates; they are labelled as such there.
DEFAULTS: dict[str, Any] = {
    # Cambridge Digital Mining Industry Report (CCAF, 2025-04-29): median delivered power cost $45/MWh.
    "power_price_usd_kwh": 0.045,
    "power_price_low_usd_kwh": 0.03,   # sensitivity choice (stranded/hydro contracts)
    "power_price_high_usd_kwh": 0.07,  # sensitivity choice (retail-like industrial tariffs)
    # CBECI methodology: best-guess PUE 1.10 (lower 1.01, upper 1.20).
    "pue": 1.10,
    # Cambridge 2025 report: all-in opex $55.5/MWh vs electricity $45/MWh -> 55.5 / 45 = 1.233.
    "opex_multiplier": 1.23,
    # Assumption (documented): straight-line 3-year write-off of mining hardware.
    "capex_amortisation_years": 3.0,
    # CBECI applies a 7-day moving average; Hashrate Index quotes a 7-day SMA of hashrate.
    "smoothing_days": 7,
    # Modelling choice: the vintage simulation starts here with the whole fleet in the newest cohort.
    "fleet_start": "2015-01-01",
    # ASIC generations, represented by Bitmain's flagship of each (manufacturer spec sheets; price per TH
    # at launch or from Hashrate Index's ASIC Price Index for the era). Cited one by one in docs.
    "cohorts": [
        {"name": "Antminer S5 (28nm)", "release": "2014-12-01", "j_per_th": 511.0, "usd_per_th": 363.0},
        {"name": "Antminer S7 (16nm)", "release": "2015-09-01", "j_per_th": 273.0, "usd_per_th": 385.0},
        {"name": "Antminer S9 (16nm)", "release": "2016-06-01", "j_per_th": 98.0, "usd_per_th": 155.0},
        {"name": "Antminer S17 (7nm)", "release": "2019-04-15", "j_per_th": 45.0, "usd_per_th": 40.0},
        {"name": "Antminer S19 Pro (7nm)", "release": "2020-05-15", "j_per_th": 29.5, "usd_per_th": 22.0},
        {"name": "Antminer S19 XP (5nm)", "release": "2022-07-15", "j_per_th": 21.5, "usd_per_th": 40.0},
        {"name": "Antminer S21 (5nm)", "release": "2024-01-15", "j_per_th": 17.5, "usd_per_th": 20.0},
        {"name": "Antminer S21 XP (3nm)", "release": "2024-10-15", "j_per_th": 13.5, "usd_per_th": 25.0},
    ],
    # Charles Edwards, "Hash Ribbons & Bitcoin Bottoms" (Capriole, 2019): 30d vs 60d SMA of hashrate.
    "ribbon_short_days": 30,
    "ribbon_long_days": 60,
    # David Puell's multiple: daily issuance USD / its 365-day SMA (CryptoQuant and Glassnode define it so).
    "puell_window_days": 365,
    # How unusual a flow is: against the trailing year of daily values.
    "zscore_window_days": 365,
    "chart_years": 3,
}

CQ_PRICE = ("cryptoquant", "BTC-USD", "1d")
NETWORK_METRICS = ("hashrate_hs", "difficulty", "blocks", "block_rewards_btc", "block_rewards_usd", "fees_btc",
                   "fees_usd", "supply_btc")
FLOW_METRICS = ("reserve_btc", "reserve_usd", "outflow_btc", "netflow_btc", "to_exchange_btc")
SECONDS_PER_DAY = 86_400.0
J_PER_KWH = 3.6e6


# -- the model ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cohort:
    name: str
    release: dt.date
    j_per_th: float
    usd_per_th: float

    @classmethod
    def of(cls, d: dict) -> "Cohort":
        rel = d["release"]
        rel = rel if isinstance(rel, dt.date) else dt.date.fromisoformat(str(rel))
        return cls(str(d["name"]), rel, float(d["j_per_th"]), float(d["usd_per_th"]))


def cohorts(p: dict) -> list[Cohort]:
    return sorted((Cohort.of(c) for c in p["cohorts"]), key=lambda c: c.release)


@dataclass
class CostCurve:
    """The modelled fleet on one day: per cohort its share of hashrate, the energy it spends per BTC
    and the capex it still carries per BTC. Pure data; `all_in` and `underwater` price it."""

    date: dt.date
    names: list[str]
    j_per_th: np.ndarray
    share: np.ndarray  # fraction of network hashrate (sums to 1)
    energy_kwh_per_btc: np.ndarray  # at the wall, PUE included
    capex_usd_per_btc: np.ndarray
    power_price_usd_kwh: float
    opex_multiplier: float
    thsec_per_btc: float  # network TH x seconds spent per BTC issued

    def electricity(self, power_price: float | None = None) -> np.ndarray:
        pp = self.power_price_usd_kwh if power_price is None else power_price
        return self.energy_kwh_per_btc * pp

    def all_in(self, power_price: float | None = None) -> np.ndarray:
        return self.electricity(power_price) * self.opex_multiplier + self.capex_usd_per_btc

    def weighted(self, values: np.ndarray) -> float:
        return float((values * self.share).sum())

    def in_service(self) -> np.ndarray:
        return self.share > 1e-9

    def rows(self, power_price: float | None = None) -> list[dict]:
        """The cost curve: in-service cohorts from cheapest to dearest all-in, with cumulative share."""
        allin, elec = self.all_in(power_price), self.electricity(power_price)
        order = [i for i in np.argsort(allin) if self.share[i] > 1e-9]
        cum, out = 0.0, []
        for i in order:
            cum += self.share[i]
            out.append({"cohort": self.names[i], "j_per_th": float(self.j_per_th[i]),
                        "share_pct": round(100 * float(self.share[i]), 2), "cum_share_pct": round(100 * float(cum), 2),
                        "electricity_usd_per_btc": round(float(elec[i]), 0),
                        "capex_usd_per_btc": round(float(self.capex_usd_per_btc[i]), 0),
                        "all_in_usd_per_btc": round(float(allin[i]), 0)})
        return out


def underwater(curve: CostCurve, price: float, power_prices: list[float] | tuple[float, ...] | None = None,
               *, basis: str = "all_in") -> dict[float, dict[str, Any]]:
    """Share of hashrate whose cost per BTC is above `price`, by power price and by cohort.

    Pure function over a day's cost curve (for the scenario engine: any price, any power price).
    basis: 'all_in' (electricity x opex multiplier + capex) or 'electricity' (cash cost of power only).
    Returns {power_price: {"total_pct": x, "by_cohort": {name: {"share_pct", "cost_usd_per_btc", "underwater"}}}}.
    """
    pps = list(power_prices) if power_prices else [curve.power_price_usd_kwh]
    out: dict[float, dict[str, Any]] = {}
    for pp in pps:
        cost = curve.all_in(pp) if basis == "all_in" else curve.electricity(pp)
        under = cost > price
        by = {curve.names[i]: {"share_pct": 100 * float(curve.share[i]), "cost_usd_per_btc": float(cost[i]),
                               "underwater": bool(under[i])}
              for i in range(len(curve.names)) if curve.share[i] > 1e-9}
        out[pp] = {"total_pct": 100 * float(curve.share[under].sum()), "by_cohort": by}
    return out


def simulate_fleet(days: pd.DataFrame, cs: list[Cohort], p: dict) -> dict[str, np.ndarray]:
    """The vintage model over a daily frame with columns date, h_th (smoothed hashrate, TH/s),
    btc_per_day (smoothed issuance incl. fees) and rev_th_day (smoothed USD revenue per TH per day,
    NaN when no price). Returns shares (days x cohorts), young (share of each cohort's capacity
    bought within the amortisation period) and thsec_per_btc (days)."""
    n, k = len(days), len(cs)
    dates = [pd.Timestamp(d).date() for d in days["date"]]
    h = days["h_th"].to_numpy(float)
    rev = days["rev_th_day"].to_numpy(float)
    kwh_th_day = np.array([c.j_per_th for c in cs]) * SECONDS_PER_DAY / J_PER_KWH * p["pue"]
    elec_th_day = kwh_th_day * p["power_price_usd_kwh"]
    release = [c.release for c in cs]
    cap = np.zeros(k)  # installed TH/s per cohort
    shares = np.zeros((n, k))
    adds = np.zeros((n, k))
    best_first = np.argsort([c.j_per_th for c in cs])  # merit order: the most efficient run first
    for i in range(n):
        if not np.isfinite(h[i]) or h[i] <= 0:
            if i:
                shares[i] = shares[i - 1]
            continue
        avail = [j for j in range(k) if release[j] <= dates[i]]
        newest = max(avail, key=lambda j: release[j]) if avail else 0
        # CBECI bound: hardware that does not earn its electricity does not run (it stays installed
        # and comes back when it pays again). The newest cohort always counts as able to run.
        able = np.array([j == newest or not np.isfinite(rev[i]) or elec_th_day[j] <= rev[i] for j in range(k)])
        usable = cap * able
        if h[i] > usable.sum():  # more hashrate than profitable installed capacity: new machines
            adds[i, newest] += h[i] - usable.sum()
            cap[newest] += h[i] - usable.sum()
            usable = cap * able
        running = np.zeros(k)
        left = h[i]
        for j in best_first:
            take = min(usable[j], left)
            running[j] = take
            left -= take
            if left <= 0:
                break
        shares[i] = running / running.sum()
    # Undepreciated share of each cohort: capacity added within the amortisation window, capped by
    # what is installed (idle machines are written off on the same schedule).
    life = max(1, int(round(p["capex_amortisation_years"] * 365.25)))
    cum = np.cumsum(adds, axis=0)
    recent = cum - np.vstack([np.zeros((life, k)), cum[:-life]])[:n]
    installed = np.cumsum(adds, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        young = np.where(installed > 0, np.minimum(1.0, recent / installed), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        thsec = h * SECONDS_PER_DAY / days["btc_per_day"].to_numpy(float)
    return {"shares": shares, "young": young, "thsec_per_btc": thsec}


def _curve_at(i: int, days: pd.DataFrame, sim: dict, cs: list[Cohort], p: dict) -> CostCurve:
    thsec = float(sim["thsec_per_btc"][i])
    j = np.array([c.j_per_th for c in cs])
    usd_th = np.array([c.usd_per_th for c in cs])
    energy = thsec * j / J_PER_KWH * p["pue"]
    capex_per_thsec = usd_th / (p["capex_amortisation_years"] * 365.25 * SECONDS_PER_DAY)
    capex = capex_per_thsec * thsec * sim["young"][i]
    return CostCurve(date=pd.Timestamp(days["date"].iloc[i]).date(), names=[c.name for c in cs], j_per_th=j,
                     share=sim["shares"][i], energy_kwh_per_btc=energy, capex_usd_per_btc=capex,
                     power_price_usd_kwh=p["power_price_usd_kwh"], opex_multiplier=p["opex_multiplier"],
                     thsec_per_btc=thsec)


def cost_history(days: pd.DataFrame, sim: dict, cs: list[Cohort], p: dict) -> pd.DataFrame:
    """Per day: hashrate-weighted electricity and all-in cost at base, low and high power price,
    and the CBECI-style efficiency bounds (most / least efficient in-service cohort)."""
    thsec = sim["thsec_per_btc"]
    j = np.array([c.j_per_th for c in cs])
    usd_th = np.array([c.usd_per_th for c in cs])
    energy = thsec[:, None] * j[None, :] / J_PER_KWH * p["pue"]
    capex = usd_th[None, :] / (p["capex_amortisation_years"] * 365.25 * SECONDS_PER_DAY) * thsec[:, None] * sim["young"]
    sh = sim["shares"]
    out = pd.DataFrame({"date": days["date"].to_numpy(), "close": days["close"].to_numpy()})
    for label, pp in (("", p["power_price_usd_kwh"]), ("_low", p["power_price_low_usd_kwh"]),
                      ("_high", p["power_price_high_usd_kwh"])):
        elec = energy * pp
        out[f"electricity{label}"] = (elec * sh).sum(axis=1)
        out[f"all_in{label}"] = ((elec * p["opex_multiplier"] + capex) * sh).sum(axis=1)
    out["fleet_j_per_th"] = (sh * j[None, :]).sum(axis=1)
    return out


# -- reading the store (Ibis) ------------------------------------------------------------------

def _daily(ctx, p: dict) -> pd.DataFrame:
    """One row per day up to the last complete day known at T: network metrics (wide), their
    smoothed values, the CryptoQuant daily close, ribbon SMAs and the recomputed Puell multiple."""
    t = ctx.table("network_daily")
    wide = t.group_by("date").aggregate(**{m: t.value.max(where=t.metric == m) for m in NETWORK_METRICS})
    c = ctx.table("candles")
    c = c.filter((c.venue == CQ_PRICE[0]) & (c.symbol == CQ_PRICE[1]) & (c.interval == CQ_PRICE[2]))
    px = c.select(pdate=c.open_time.cast("date"), close=c.close)
    d = wide.left_join(px, wide.date == px.pdate).drop("pdate")
    s, r1, r2, pw = (int(p["smoothing_days"]), int(p["ribbon_short_days"]), int(p["ribbon_long_days"]),
                     int(p["puell_window_days"]))

    def win(n):
        return ibis.window(order_by=d.date, preceding=n - 1, following=0)

    def sma(col, n):  # null until the window is full
        w = win(n)
        return ibis.ifelse(col.count().over(w) == n, col.mean().over(w), ibis.null("float64"))

    d = d.mutate(
        h_th=sma(d.hashrate_hs, s) / 1e12,
        btc_per_day=sma(d.block_rewards_btc, s),
        usd_per_day=sma(d.block_rewards_btc * d.close, s),
        sma_short=sma(d.hashrate_hs, r1),
        sma_long=sma(d.hashrate_hs, r2),
        puell=d.block_rewards_usd / sma(d.block_rewards_usd, pw),
    )
    d = d.mutate(rev_th_day=d.usd_per_day / d.h_th)
    df = d.order_by("date").execute()
    df["date"] = pd.to_datetime(df["date"])
    return df


def _provenance(ctx, table: str, metrics: tuple[str, ...], first: dt.date | None, last: dt.date | None,
                name_col: str = "metric", note: str | None = None) -> list[Source]:
    """Sources for the rows of `metrics` in [first, last], one per origin (counted in Ibis)."""
    t = ctx.table(table)
    t = t.filter(t[name_col].isin(list(metrics)))
    if first is not None:
        t = t.filter(t.date >= first)
    if last is not None:
        t = t.filter(t.date <= last)
    g = t.group_by("origin").aggregate(rows=t.count(), first=t.date.min(), last=t.date.max()).order_by("origin").execute()
    return [Source(table=table, origin=r.origin, rows=int(r.rows), first=_ts(r.first), last=_ts(r.last), note=note)
            for r in g.itertuples()]


def _price_source(ctx, first: dt.date, last: dt.date, note: str | None = None) -> Source:
    c = ctx.table("candles")
    c = c.filter((c.venue == CQ_PRICE[0]) & (c.symbol == CQ_PRICE[1]) & (c.interval == CQ_PRICE[2])
                 & (c.open_time >= _ts(first)) & (c.open_time <= _ts(last)))
    g = c.aggregate(rows=c.count(), first=c.open_time.min(), last=c.open_time.max(),
                    origin=c.origin.max()).execute().iloc[0]
    return Source(table="candles", origin=str(g.origin), rows=int(g.rows), first=_ts(g["first"]),
                  last=_ts(g["last"]), note=note or "CryptoQuant daily close (venue cryptoquant, BTC-USD, 1d)")


def _ts(v) -> dt.datetime | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    ts = pd.Timestamp(v)
    return ts.to_pydatetime().replace(tzinfo=None)


def _flows(ctx) -> pd.DataFrame:
    t = ctx.table("miner_flows_daily")
    wide = t.group_by("date").aggregate(**{m: t.value.max(where=t.metric == m) for m in FLOW_METRICS})
    df = wide.order_by("date").execute()
    df["date"] = pd.to_datetime(df["date"])
    return df


def _trailing_stats(ctx, table: str, metric: str, day: dt.date, value: float, days: int) -> dict | None:
    """z-score and percentile of `value` against the `days` daily values before `day` (Ibis aggregate)."""
    t = ctx.table(table)
    t = t.filter((t.metric == metric) & (t.date < day) & (t.date >= day - dt.timedelta(days=days)))
    g = t.aggregate(n=t.count(), mean=t.value.mean(), std=t.value.std(),
                    below=(t.value <= value).cast("float64").mean()).execute().iloc[0]
    if int(g.n) < days // 2 or not g["std"] or pd.isna(g["std"]):
        return None
    z = (value - float(g["mean"])) / float(g["std"])
    return {"zscore": round(z, 2), "percentile": round(100 * float(g.below), 1), "history": f"{days}d daily",
            "mean": round(float(g["mean"]), 2), "std": round(float(g["std"]), 2), "n": int(g.n)}


# -- the model, as of T ------------------------------------------------------------------------

@dataclass
class Model:
    p: dict
    cohorts: list[Cohort]
    days: pd.DataFrame  # from fleet_start - warm-up to the last complete day
    sim: dict
    history: pd.DataFrame  # cost_history
    full: pd.DataFrame  # the whole daily frame (ribbon SMAs, Puell), from the first day

    @property
    def last(self) -> int:
        return len(self.days) - 1

    def curve(self, i: int | None = None) -> CostCurve:
        return _curve_at(self.last if i is None else i, self.days, self.sim, self.cohorts, self.p)


def model(ctx, p: dict | None = None) -> Model | None:
    """The fleet model as of ctx.as_of (cached on the context per parameter set)."""
    p = p or ctx.area_params(AREA, DEFAULTS)
    key = repr(sorted(p.items()))
    cache = ctx.__dict__.setdefault("_miners_cache", {})
    if key in cache:
        return cache[key]
    df = _daily(ctx, p)
    start = pd.Timestamp(p["fleet_start"])
    days = df[(df["date"] >= start) & df["h_th"].notna() & df["btc_per_day"].notna()].reset_index(drop=True)
    if days.empty:
        cache[key] = None
        return None
    cs = cohorts(p)
    sim = simulate_fleet(days, cs, p)
    m = Model(p=p, cohorts=cs, days=days, sim=sim, history=cost_history(days, sim, cs, p), full=df)
    cache[key] = m
    return m


def _price(ctx) -> tuple[float | None, bool, list[Source], str]:
    """(price, hypothetical, sources, how): price.last_usd when the price area ran, else the
    latest CryptoQuant daily close known at T (stated in the finding)."""
    price, hypo, observed = ctx.price()
    if hypo:
        return price, True, list(observed.sources) if observed else [], "hypothetical price given by the user"
    if price is not None:
        return price, False, list(observed.sources), "price.last_usd"
    c = ctx.table("candles")
    c = c.filter((c.venue == CQ_PRICE[0]) & (c.symbol == CQ_PRICE[1]) & (c.interval == CQ_PRICE[2]))
    last = c.order_by(ibis.desc("open_time")).limit(1).execute()
    if last.empty:
        return None, False, [], "no price"
    r = last.iloc[0]
    src = Source(table="candles", origin=r.origin, rows=1, first=_ts(r.open_time), last=_ts(r.open_time),
                 note="price.last_usd not available: latest CryptoQuant daily close used")
    return float(r.close), False, [src], f"CryptoQuant daily close of {pd.Timestamp(r.open_time).date()}"


# -- findings ----------------------------------------------------------------------------------

def findings(ctx) -> list[Finding]:
    p = ctx.area_params(AREA, DEFAULTS)
    T = ctx.as_of
    out: list[Finding] = []
    m = model(ctx, p)
    price, hypo, price_sources, price_how = _price(ctx)

    model_ids = ("miners.electricity_cost_usd", "miners.production_cost_usd", "miners.margin_pct",
                 "miners.breakeven_power_price_usd_kwh", "miners.hashrate_underwater_pct")
    if m is None:
        for fid in model_ids:
            out.append(not_available(fid, T, "no network data (hashrate, block rewards) known at this instant",
                                     kind="modelled"))
    else:
        out += _model_findings(ctx, m, p, price, hypo, price_sources, price_how)
    out += _revenue_findings(ctx, m, p, price, hypo, price_sources)
    out += _flow_findings(ctx, p)
    out += _ribbon_and_puell(ctx, m, p)
    return out


def _model_params(p: dict) -> dict:
    return {k: p[k] for k in ("power_price_usd_kwh", "power_price_low_usd_kwh", "power_price_high_usd_kwh", "pue",
                              "opex_multiplier", "capex_amortisation_years", "smoothing_days", "fleet_start",
                              "cohorts")}


def _model_sources(ctx, m: Model) -> list[Source]:
    first, last = m.days["date"].iloc[0].date(), m.days["date"].iloc[-1].date()
    first_w = first - dt.timedelta(days=int(m.p["smoothing_days"]) - 1)
    return (_provenance(ctx, "network_daily", ("hashrate_hs", "block_rewards_btc"), first_w, last)
            + [_price_source(ctx, first_w, last, "CryptoQuant daily close: revenue per TH for the fleet's "
                                                 "profitability (retirement) rule")])


def _model_findings(ctx, m: Model, p: dict, price, hypo, price_sources, price_how) -> list[Finding]:
    T = ctx.as_of
    curve = m.curve()
    day = curve.date
    window = f"1d:{day}"
    params = _model_params(p)
    srcs = _model_sources(ctx, m)
    base = dict(as_of=T, window=window, kind="modelled", params=params)
    elec = curve.electricity()
    allin = curve.all_in()
    w_elec, w_allin = curve.weighted(elec), curve.weighted(allin)
    svc = curve.in_service()
    lo_i = int(np.argmin(np.where(svc, curve.j_per_th, np.inf)))
    hi_i = int(np.argmax(np.where(svc, curve.j_per_th, -np.inf)))
    pps = {"low": p["power_price_low_usd_kwh"], "base": p["power_price_usd_kwh"], "high": p["power_price_high_usd_kwh"]}
    grid = {}
    for pl, pp in pps.items():
        a = curve.all_in(pp)
        grid[pl] = {"power_price_usd_kwh": pp,
                    "fleet_low_most_efficient": round(float(a[lo_i]), 0),
                    "fleet_base_weighted": round(curve.weighted(a), 0),
                    "fleet_high_least_efficient_running": round(float(a[hi_i]), 0)}
    h = m.history
    fleet_j = float(h["fleet_j_per_th"].iloc[-1])
    common_detail = {"day": str(day), "fleet_j_per_th": round(fleet_j, 2),
                     "network_th_seconds_per_btc": round(curve.thsec_per_btc, 0),
                     "btc_issued_per_day_smoothed": round(float(m.days["btc_per_day"].iloc[-1]), 2),
                     "hashrate_hs_smoothed": float(m.days["h_th"].iloc[-1]) * 1e12}
    out = [
        Finding(id="miners.electricity_cost_usd", value=round(w_elec, 0), unit="USD", sources=srcs,
                method="hashrate-weighted over ASIC cohorts of: network TH/s x J/TH x 86,400 s / BTC issued per day "
                       "(subsidy + fees), x PUE, / 3.6e6 J/kWh, x power price (7-day smoothed inputs)",
                detail={**common_detail, "cost_curve": curve.rows(),
                        "lower_bound_most_efficient": round(float(elec[lo_i]), 0),
                        "upper_bound_least_efficient_running": round(float(elec[hi_i]), 0)}, **base),
        Finding(id="miners.production_cost_usd", value=round(w_allin, 0), unit="USD", sources=srcs,
                method="all-in cost per BTC = electricity cost x non-energy opex multiplier + hardware capex "
                       "per BTC (price per TH amortised straight-line; capacity older than the amortisation "
                       "period carries none), hashrate-weighted over cohorts",
                detail={**common_detail, "cost_curve": curve.rows(), "sensitivity": grid,
                        "capex_share_pct": round(100 * curve.weighted(curve.capex_usd_per_btc) / w_allin, 1)},
                **base),
    ]
    # Breakeven power price: the cash cost (electricity x opex multiplier) of the average fleet equals price.
    if price is None:
        out += [not_available(i, T, "no price known at this instant", kind="modelled")
                for i in ("miners.margin_pct", "miners.breakeven_power_price_usd_kwh",
                          "miners.hashrate_underwater_pct")]
        return out
    psrc = srcs + price_sources
    margin = (price - w_allin) / price * 100
    hist = h.dropna(subset=["close"]).tail(int(p["zscore_window_days"]) + 1)
    hm = (hist["close"] - hist["all_in"]) / hist["close"] * 100
    unusual = None
    if len(hm) > 30:
        prev = hm.iloc[:-1]
        unusual = {"zscore": round(float((margin - prev.mean()) / prev.std()), 2),
                   "percentile": round(float((prev <= margin).mean() * 100), 1),
                   "history": f"{len(prev)}d daily (CryptoQuant close vs modelled all-in cost)", "n": len(prev)}
    out.append(Finding(
        id="miners.margin_pct", value=round(margin, 1), unit="pct", sources=psrc, hypothetical=hypo,
        method="(price - modelled all-in cost per BTC) / price x 100; negative: price below cost",
        detail={"price_usd": price, "price_from": price_how, "production_cost_usd": round(w_allin, 0),
                "price_vs_cost_pct": round((price / w_allin - 1) * 100, 1),
                "margin_by_power_price_pct": {k: round((price - v["fleet_base_weighted"]) / price * 100, 1)
                                              for k, v in grid.items()}},
        unusual=unusual, **base))
    energy_w = curve.weighted(curve.energy_kwh_per_btc)
    be = price / (energy_w * p["opex_multiplier"])
    be_allin = (price - curve.weighted(curve.capex_usd_per_btc)) / (energy_w * p["opex_multiplier"])
    out.append(Finding(
        id="miners.breakeven_power_price_usd_kwh", value=round(be, 4), unit="USD/kWh", sources=psrc,
        hypothetical=hypo,
        method="power price at which the hashrate-weighted fleet's cash cost (electricity x opex multiplier) "
               "equals the price: price / (kWh per BTC x opex multiplier); capex excluded (sunk)",
        detail={"price_usd": price, "price_from": price_how, "kwh_per_btc_weighted": round(energy_w, 0),
                "breakeven_including_capex_usd_kwh": round(be_allin, 4),
                "by_cohort_cash_breakeven_usd_kwh": {
                    curve.names[i]: round(price / (curve.energy_kwh_per_btc[i] * p["opex_multiplier"]), 4)
                    for i in range(len(curve.names)) if svc[i]}},
        **base))
    uw = underwater(curve, price, list(pps.values()))
    uw_cash = underwater(curve, price, list(pps.values()), basis="electricity")
    out.append(Finding(
        id="miners.hashrate_underwater_pct", value=round(uw[p["power_price_usd_kwh"]]["total_pct"], 1), unit="pct",
        sources=psrc, hypothetical=hypo,
        method="share of modelled hashrate whose all-in cost per BTC is above the price (cohort cost curve)",
        detail={"price_usd": price, "price_from": price_how,
                "by_power_price_pct": {k: round(uw[v]["total_pct"], 1) for k, v in pps.items()},
                "electricity_only_by_power_price_pct": {k: round(uw_cash[v]["total_pct"], 1) for k, v in pps.items()},
                "by_cohort": uw[p["power_price_usd_kwh"]]["by_cohort"]},
        **base))
    return out


def _last_network_day(ctx) -> pd.DataFrame:
    t = ctx.table("network_daily")
    last = t.date.max()
    d = t.filter(t.date == last)
    return d.execute()


def _revenue_findings(ctx, m: Model | None, p: dict, price, hypo, price_sources) -> list[Finding]:
    T = ctx.as_of
    rows = _last_network_day(ctx)
    ids = ("miners.revenue_usd_1d", "miners.hashprice_usd_per_ph_day")
    if rows.empty:
        return [not_available(i, T, "no network data known at this instant") for i in ids]
    v = {r.metric: r.value for r in rows.itertuples()}
    day = pd.Timestamp(rows["date"].iloc[0]).date()
    used = rows[rows.metric.isin(["block_rewards_btc", "block_rewards_usd", "hashrate_hs"])]
    srcs = [Source(table="network_daily", origin=o, rows=len(g), first=_ts(day), last=_ts(day))
            for o, g in used.groupby("origin")]
    if "hashrate_hs" not in v or "block_rewards_btc" not in v:
        return [not_available(i, T, f"hashrate or block rewards missing for {day}") for i in ids]
    if hypo:
        revenue, how = v["block_rewards_btc"] * price, "block rewards (BTC, subsidy + fees) x hypothetical price"
        srcs = srcs + price_sources
    elif v.get("block_rewards_usd") is not None:
        revenue, how = v["block_rewards_usd"], "block rewards in USD as published (subsidy + fees at the day's price)"
    else:
        return [not_available(i, T, f"no USD block rewards for {day}") for i in ids]
    ph = v["hashrate_hs"] / 1e15
    hp = revenue / ph
    base = dict(as_of=T, window=f"1d:{day}", sources=srcs, hypothetical=hypo)
    t = ctx.table("network_daily")
    hist = t.filter((t.date < day) & (t.date >= day - dt.timedelta(days=int(p["zscore_window_days"]))))
    hh = hist.group_by("date").aggregate(
        usd=hist.value.max(where=hist.metric == "block_rewards_usd"),
        hs=hist.value.max(where=hist.metric == "hashrate_hs"))
    hh = hh.mutate(hp=hh.usd / (hh.hs / 1e15))
    st = hh.aggregate(n=hh.count(), mean=hh.hp.mean(), std=hh.hp.std(),
                      below=(hh.hp <= hp).cast("float64").mean()).execute().iloc[0]
    unusual = None
    if int(st.n) > 30 and st["std"]:
        unusual = {"zscore": round((hp - float(st["mean"])) / float(st["std"]), 2),
                   "percentile": round(100 * float(st.below), 1), "history": f"{int(st.n)}d daily", "n": int(st.n)}
    return [
        Finding(id="miners.revenue_usd_1d", value=round(revenue, 0), unit="USD", method=how,
                detail={"day": str(day), "block_rewards_btc": v["block_rewards_btc"], "fees_btc": v.get("fees_btc"),
                        "subsidy_btc": (v["block_rewards_btc"] - v["fees_btc"]) if "fees_btc" in v else None,
                        "blocks": v.get("blocks")}, **base),
        Finding(id="miners.hashprice_usd_per_ph_day", value=round(hp, 2), unit="USD/PH/day",
                method="miner revenue of the day (USD) / network hashrate that day (PH/s)",
                detail={"day": str(day), "revenue_usd": round(revenue, 0), "hashrate_ph_s": round(ph, 0),
                        "usd_per_th_day": round(hp / 1000, 4)}, unusual=unusual, **base),
    ]


def _flow_findings(ctx, p: dict) -> list[Finding]:
    T = ctx.as_of
    t = ctx.table("miner_flows_daily")
    zd = int(p["zscore_window_days"])
    out = []
    last_day = t.date.max().execute()
    if last_day is None or pd.isna(last_day):
        return [not_available(i, T, "no miner-flow data known at this instant")
                for i in ("miners.reserve_btc", "miners.reserve_change_30d_btc", "miners.outflow_btc_1d",
                          "miners.to_exchange_btc_1d")]
    last_day = pd.Timestamp(last_day).date()
    d30 = last_day - dt.timedelta(days=30)
    rows = t.filter(t.date.isin([last_day, d30])).execute()
    val = {(pd.Timestamp(r.date).date(), r.metric): r for r in rows.itertuples()}

    def src(metric, days_):
        return [Source(table="miner_flows_daily", origin=val[(d, metric)].origin, rows=1, first=_ts(d), last=_ts(d))
                for d in days_ if (d, metric) in val]

    r = val.get((last_day, "reserve_btc"))
    if r is None:
        out.append(not_available("miners.reserve_btc", T, f"no miner reserve for {last_day}"))
    else:
        out.append(Finding(id="miners.reserve_btc", value=round(r.value, 0), unit="BTC", as_of=T,
                           window=f"1d:{last_day}", sources=src("reserve_btc", [last_day]),
                           method="BTC held by wallets CryptoQuant labels as miners (all miners), end of day",
                           detail={"day": str(last_day), "reserve_usd": getattr(val.get((last_day, "reserve_usd")),
                                                                                 "value", None)}))
    r0 = val.get((d30, "reserve_btc"))
    if r is None or r0 is None:
        out.append(not_available("miners.reserve_change_30d_btc", T, f"miner reserve missing on {d30} or {last_day}"))
    else:
        chg = r.value - r0.value
        # How unusual: against the trailing year of 30-day changes (Ibis: self-join on date - 30).
        res = t.filter(t.metric == "reserve_btc")
        a, b = res.select(date=res.date, v=res.value), res.select(d0=res.date, v0=res.value)
        j = a.join(b, a.date == b.d0 + ibis.interval(days=30))
        j = j.filter((j.date < last_day) & (j.date >= last_day - dt.timedelta(days=zd)))
        j = j.mutate(c=j.v - j.v0)
        st = j.aggregate(n=j.count(), mean=j.c.mean(), std=j.c.std(), below=(j.c <= chg).cast("float64").mean()
                         ).execute().iloc[0]
        unusual = ({"zscore": round((chg - float(st["mean"])) / float(st["std"]), 2),
                    "percentile": round(100 * float(st.below), 1), "history": f"{int(st.n)}d of 30d changes",
                    "n": int(st.n)}
                   if int(st.n) > 30 and st["std"] else None)
        out.append(Finding(id="miners.reserve_change_30d_btc", value=round(chg, 0), unit="BTC", as_of=T,
                           window=f"30d:{d30}..{last_day}", sources=src("reserve_btc", [d30, last_day]),
                           method="miner reserve at the last day minus 30 days earlier",
                           detail={"from": str(d30), "to": str(last_day), "reserve_from": round(r0.value, 0),
                                   "reserve_to": round(r.value, 0), "change_pct": round(chg / r0.value * 100, 2)},
                           unusual=unusual))
    for fid, metric, what in (("miners.outflow_btc_1d", "outflow_btc", "total BTC leaving miner wallets"),
                              ("miners.to_exchange_btc_1d", "to_exchange_btc", "BTC sent from miner wallets to exchanges")):
        r = val.get((last_day, metric))
        if r is None:
            out.append(not_available(fid, T, f"no {metric} for {last_day}"))
            continue
        st = _trailing_stats(ctx, "miner_flows_daily", metric, last_day, r.value, zd)
        out.append(Finding(id=fid, value=round(r.value, 1), unit="BTC", as_of=T, window=f"1d:{last_day}",
                           sources=src(metric, [last_day]) + _provenance(
                               ctx, "miner_flows_daily", (metric,), last_day - dt.timedelta(days=zd),
                               last_day - dt.timedelta(days=1), note="trailing year for the z-score"),
                           method=f"{what} on the last complete day (CryptoQuant, all miners); z-score and "
                                  f"percentile against the {zd} days before",
                           detail={"day": str(last_day), **({"zscore": st["zscore"], "percentile": st["percentile"],
                                                             "trailing_mean": st["mean"], "trailing_std": st["std"]}
                                                            if st else {})},
                           unusual=st and {k: st[k] for k in ("zscore", "percentile", "history", "n")}))
    return out


def _ribbon_and_puell(ctx, m: Model | None, p: dict) -> list[Finding]:
    T = ctx.as_of
    out = []
    if m is None:
        return [not_available("miners.hash_ribbon", T, "no hashrate known at this instant", unit="state"),
                not_available("miners.puell_multiple", T, "no block rewards known at this instant", unit="index")]
    df = m.full.dropna(subset=["sma_short", "sma_long"])
    r1, r2 = int(p["ribbon_short_days"]), int(p["ribbon_long_days"])
    if df.empty:
        out.append(not_available("miners.hash_ribbon", T, f"fewer than {r2} days of hashrate", unit="state"))
    else:
        below = (df["sma_short"] < df["sma_long"]).to_numpy()
        last = df.iloc[-1]
        state = "capitulation" if below[-1] else "no capitulation"
        flips = np.nonzero(below[1:] != below[:-1])[0]
        cross = df["date"].iloc[flips[-1] + 1].date() if len(flips) else None
        days_since = (last["date"].date() - cross).days if cross else None
        # Edwards' buy signal: after capitulation ends (30d back above 60d), price momentum turns up
        # (10-day SMA of price above its 20-day SMA).
        closes = m.full["close"].dropna()
        mom = bool(closes.tail(10).mean() > closes.tail(20).mean()) if len(closes) >= 20 else None
        day = last["date"].date()
        out.append(Finding(
            id="miners.hash_ribbon", value=state, unit="state", as_of=T, window=f"{r2}d:{day}",
            sources=_provenance(ctx, "network_daily", ("hashrate_hs",), day - dt.timedelta(days=r2 - 1), day),
            params={k: p[k] for k in ("ribbon_short_days", "ribbon_long_days")},
            method=f"Hash Ribbons (Charles Edwards, 2019): capitulation while the {r1}-day SMA of hashrate is below "
                   f"the {r2}-day SMA; days since the last cross of the two",
            detail={"day": str(day), "sma_short_hs": float(last["sma_short"]), "sma_long_hs": float(last["sma_long"]),
                    "ratio": round(float(last["sma_short"] / last["sma_long"]), 4),
                    "last_cross": str(cross) if cross else None, "days_since_cross": days_since,
                    "last_cross_direction": ("down (capitulation began)" if below[-1] else "up (capitulation ended)")
                    if cross else None,
                    "price_momentum_up_10d_vs_20d": mom}))
    pu = m.full.dropna(subset=["puell"])
    if pu.empty:
        out.append(not_available("miners.puell_multiple", T, f"fewer than {p['puell_window_days']} days of USD "
                                                             "block rewards", unit="index"))
    else:
        last = pu.iloc[-1]
        day = last["date"].date()
        ind = ctx.table("indicators_daily")
        cq = ind.filter((ind.name == "puell_multiple") & (ind.date == day)).execute()
        cqv = float(cq["value"].iloc[0]) if not cq.empty else None
        w = int(p["puell_window_days"])
        out.append(Finding(
            id="miners.puell_multiple", value=round(float(last["puell"]), 3), unit="index", as_of=T,
            window=f"{w}d:{day}",
            sources=_provenance(ctx, "network_daily", ("block_rewards_usd",), day - dt.timedelta(days=w - 1), day),
            params={"puell_window_days": w},
            method=f"daily miner issuance in USD (block rewards incl. fees, as CryptoQuant) / its {w}-day SMA",
            detail={"day": str(day), "issuance_usd": float(last["block_rewards_usd"]),
                    "cryptoquant_puell_multiple": cqv}))
    return out


# -- series (charts) ---------------------------------------------------------------------------

def series(ctx) -> list[Series]:
    p = ctx.area_params(AREA, DEFAULTS)
    m = model(ctx, p)
    out: list[Series] = []
    if m is None:
        return out
    h = m.history
    end = h["date"].iloc[-1]
    start = end - pd.DateOffset(years=int(p["chart_years"]))
    h = h[h["date"] > start]
    xs = [d.date().isoformat() for d in h["date"]]

    def col(c):
        return [None if pd.isna(v) else round(float(v), 2) for v in h[c]]

    srcs = _model_sources(ctx, m)
    out.append(Series(
        name="miners.cost_vs_price_3y", title="BTC price vs modelled all-in production cost", unit="USD",
        x=xs, y=col("all_in"), sources=srcs,
        extra={"price": col("close"), "all_in_low": col("all_in_low"), "all_in_high": col("all_in_high"),
               "electricity": col("electricity"), "fleet_j_per_th": col("fleet_j_per_th"),
               "band": f"power price {p['power_price_low_usd_kwh']}..{p['power_price_high_usd_kwh']} USD/kWh"}))
    f = m.full
    f = f[(f["date"] > start) & f["block_rewards_usd"].notna() & f["hashrate_hs"].notna()]
    out.append(Series(
        name="miners.hashprice_3y", title="Hashprice (USD per PH/s per day)", unit="USD/PH/day",
        x=[d.date().isoformat() for d in f["date"]],
        y=[round(float(a / (b / 1e15)), 2) for a, b in zip(f["block_rewards_usd"], f["hashrate_hs"])],
        sources=_provenance(ctx, "network_daily", ("block_rewards_usd", "hashrate_hs"), start.date(), end.date())))
    fl = _flows(ctx)
    fl = fl[(fl["date"] > start) & fl["reserve_btc"].notna()]
    out.append(Series(
        name="miners.reserve_3y", title="Miner reserve (BTC, all miners)", unit="BTC",
        x=[d.date().isoformat() for d in fl["date"]], y=[round(float(v), 0) for v in fl["reserve_btc"]],
        sources=_provenance(ctx, "miner_flows_daily", ("reserve_btc",), start.date(), None)))
    return out
