"""Miner economics as of any instant: the modelled production cost under like-for-like definitions,
the modelled network power and fleet efficiency, margins and hashrate under water; revenue, flows and
cycle indicators (metrics/miners_flows.py); published estimates and Cambridge's figures as cited
findings (metrics/miners_cited.py).

This module reads the store (Ibis: the daily network frame, smoothing, joins) and turns the pure fleet
model (`btcstress.fleet`: sourced generations, profitability rule, depreciation, cost definitions)
into findings. Parameters default to what was published by T (`fleet.params_as_of`), so a run as of
any past instant uses only sources available then; `--param miners.NAME=VALUE` overrides.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from btcstress import fleet
from btcstress.findings import Finding, Series, Source, not_available
from btcstress.fleet import costs, data as fleet_data, simulate as fleet_sim
from btcstress.metrics import miners_cited, miners_flows as flows
from btcstress.metrics.miners_flows import CQ_PRICE, provenance, ts

AREA = "miners"

# Not the fleet model's: indicator windows (cited in docs/METRICS.md#miners).
INDICATORS: dict[str, Any] = {
    "ribbon_short_days": 30, "ribbon_long_days": 60,  # Edwards, "Hash Ribbons & Bitcoin Bottoms" (2019)
    "puell_window_days": 365,  # Puell multiple: issuance USD / its 365-day SMA
    "zscore_window_days": 365,  # how unusual: the trailing year
    "chart_years": 3,
}
DEFAULTS: dict[str, Any] = {**fleet.DEFAULTS, **INDICATORS}
# Each default's source (read by `btcstress params`): the fleet's from fleet/params.py, with URL and date.
PARAM_SOURCES: dict[str, str] = {
    **{k: v["source"] + (f" ({v['url']}, {v['published']})" if v["url"] else "")
       + (" [NOT VERIFIED]" if v["verified"] is False else "") for k, v in fleet.params.SOURCES.items()},
    "ribbon_short_days": "Charles Edwards, 'Hash Ribbons & Bitcoin Bottoms' (Capriole, 2019): 30-day SMA",
    "ribbon_long_days": "Charles Edwards, 'Hash Ribbons & Bitcoin Bottoms' (Capriole, 2019): 60-day SMA",
    "puell_window_days": "David Puell's multiple: daily issuance USD / its 365-day SMA",
    "zscore_window_days": "how unusual: the trailing year of daily values",
    "chart_years": "brief chart span",
}
NETWORK_METRICS = ("hashrate_hs", "difficulty", "blocks", "block_rewards_btc", "block_rewards_usd", "fees_btc",
                   "fees_usd", "supply_btc")
MODEL_IDS = ("miners.electricity_cost_usd", "miners.cash_cost_usd", "miners.production_cost_usd",
             "miners.marginal_cost_usd", "miners.network_power_gw", "miners.fleet_j_per_th")
PRICED_IDS = ("miners.margin_pct", "miners.breakeven_power_price_usd_kwh", "miners.hashrate_underwater_pct",
              "miners.hashrate_underwater_cash_pct")
DEFINITIONS = {
    "electricity": "electricity only: kWh per BTC at the wall (J/TH x PUE) x the stated power price",
    "cash": "cash cost: electricity + non-energy operating cost per kWh",
    "all_in": "all-in: cash cost + straight-line depreciation of the machines running",
    "marginal": "cash cost of the least efficient generation still running",
}


def params(ctx) -> dict[str, Any]:
    """The area's parameters as of T: sources published by then, config/CLI overrides on top."""
    p0, _ = fleet.params_as_of(ctx.as_of_naive.date())
    return ctx.area_params(AREA, {**p0, **INDICATORS})


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

    def sma(col, n):  # null until the window is full
        w = ibis.window(order_by=d.date, preceding=n - 1, following=0)
        return ibis.ifelse(col.count().over(w) == n, col.mean().over(w), ibis.null("float64"))

    d = d.mutate(h_th=sma(d.hashrate_hs, s) / 1e12, btc_per_day=sma(d.block_rewards_btc, s),
                 usd_per_day=sma(d.block_rewards_btc * d.close, s), sma_short=sma(d.hashrate_hs, r1),
                 sma_long=sma(d.hashrate_hs, r2), puell=d.block_rewards_usd / sma(d.block_rewards_usd, pw))
    d = d.mutate(rev_th_day=d.usd_per_day / d.h_th)
    df = d.order_by("date").execute()
    df["date"] = pd.to_datetime(df["date"])
    return df


# -- the model, as of T ------------------------------------------------------------------------

@dataclass
class Model:
    p: dict
    days: pd.DataFrame  # from fleet_start to the last complete day
    fleet: fleet.Fleet
    history: pd.DataFrame  # costs.history with the close
    full: pd.DataFrame  # the whole daily frame (ribbon SMAs, Puell), from the first day

    @property
    def last(self) -> int:
        return len(self.days) - 1

    def curve(self, i: int | None = None) -> costs.CostCurve:
        return costs.curve(self.fleet, self.last if i is None else i, self.p)


def model(ctx, p: dict | None = None) -> Model | None:
    """The fleet model as of ctx.as_of (cached on the context per parameter set, and across instants
    through `_whole`: a history asks for it at many instants)."""
    p = p or params(ctx)
    key = repr(sorted(p.items()))
    cache = ctx.__dict__.setdefault("_miners_cache", {})
    if key not in cache:
        cache[key] = _from_whole(ctx, p)
        if cache[key] is None:
            cache[key] = _build(ctx, p)
    return cache[key]


def _build(ctx, p: dict, released_by: dt.date | None = None) -> Model | None:
    """Run the model over ctx's data, with the generations released by `released_by` (default: T)."""
    return over_days(_daily(ctx, p), p, fleet_data.generations(released_by or ctx.as_of_naive.date()))


def over_days(df: pd.DataFrame, p: dict, gens: list) -> Model | None:
    """The model over a daily frame (`_daily`) with the generations `gens` (the history runs it once per
    generation set over the whole frame)."""
    days = df[(df["date"] >= pd.Timestamp(p["fleet_start"])) & df["h_th"].notna()
              & df["btc_per_day"].notna()].reset_index(drop=True)
    if days.empty or not gens:
        return None
    f = fleet_sim.simulate(days, gens, p)
    return Model(p=p, days=days, fleet=f, history=costs.history(f, p, days["close"].to_numpy(float)), full=df)


# Models over all the data, by (store, data fingerprint, generations, params): at most a few per history.
_WHOLE: OrderedDict = OrderedDict()
_WHOLE_MAX = 8
_FAR = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)


def _from_whole(ctx, p: dict) -> Model | None:
    """The model as of T cut from one run over all the data, when that is exactly what a run as of T
    gives: every row of a day up to T's last day D is published by T (no late row, no restatement),
    so the causal simulation over all days, stopped at D, is the run as of T. Otherwise None (the
    caller runs it as of T)."""
    store = ctx.store
    T = ctx.as_of_naive
    parts = []
    for table, cut in (("network_daily", None), ("candles", CQ_PRICE)):
        t = store.table(table)
        if cut:
            t = t.filter((t.venue == cut[0]) & (t.symbol == cut[1]) & (t.interval == cut[2]))
            t = t.mutate(date=t.open_time.cast("date"))
        parts.append(t)
    n, c = parts
    # One query: T's last day, the first day of a row published after T (late if <= that day), fingerprints.
    a = n.aggregate(last=n.date.max(where=n.available_at <= T), late_n=n.date.min(where=n.available_at > T),
                    r_n=n.count(), a_n=n.available_at.max())
    b = c.aggregate(late_c=c.date.min(where=c.available_at > T), r_c=c.count(), a_c=c.available_at.max())
    row = a.cross_join(b).execute().iloc[0]
    if row["last"] is None or pd.isna(row["last"]):
        return None
    last = pd.Timestamp(row["last"]).date()
    if any(not pd.isna(row[k]) and pd.Timestamp(row[k]).date() <= last for k in ("late_n", "late_c")):
        return None
    fp = ((row["r_n"], row["a_n"]), (row["r_c"], row["a_c"]))
    gens = tuple(g.name for g in fleet_data.generations(T.date()))
    key = (str(getattr(store, "path", id(store))), fp, gens, repr(sorted(p.items())))
    whole = _WHOLE.get(key)
    if whole is None:
        from btcstress.metrics.context import Context
        full_ctx = Context(store=store, as_of=_FAR, params=ctx.params)
        whole = _build(full_ctx, p, T.date())
        _WHOLE[key] = whole
        while len(_WHOLE) > _WHOLE_MAX:
            _WHOLE.popitem(last=False)
    else:
        _WHOLE.move_to_end(key)
    if whole is None:
        return None
    k = int((whole.days["date"].dt.date <= last).sum())
    if k == 0:
        return None
    cut = pd.Timestamp(last)
    return Model(p=p, days=whole.days.iloc[:k].reset_index(drop=True), fleet=whole.fleet.head(k),
                 history=whole.history.iloc[:k].reset_index(drop=True),
                 full=whole.full[whole.full["date"] <= cut].reset_index(drop=True))


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
    src = Source(table="candles", origin=r.origin, rows=1, first=ts(r.open_time), last=ts(r.open_time),
                 note="price.last_usd not available: latest CryptoQuant daily close used")
    return float(r.close), False, [src], f"CryptoQuant daily close of {pd.Timestamp(r.open_time).date()}"


# -- findings ----------------------------------------------------------------------------------

def findings(ctx) -> list[Finding]:
    p = params(ctx)
    T = ctx.as_of
    m = model(ctx, p)
    price, hypo, price_sources, price_how = _price(ctx)
    out: list[Finding] = []
    if m is None:
        out += [not_available(i, T, "no network data (hashrate, block rewards) or no released ASIC generation "
                                    "known at this instant", kind="modelled") for i in MODEL_IDS + PRICED_IDS]
    else:
        out += _model_findings(ctx, m, p)
        out += _priced_findings(ctx, m, p, price, hypo, price_sources, price_how)
    out += flows.revenue_findings(ctx, p, price, hypo, price_sources)
    out += flows.flow_findings(ctx, p)
    out += flows.ribbon_and_puell(ctx, m.full if m is not None else None, p)
    out += miners_cited.published_findings(ctx)
    out += miners_cited.cambridge_findings(ctx)
    return out


def _model_params(p: dict) -> dict:
    return {k: p[k] for k in fleet.DEFAULTS}


def _model_sources(ctx, m: Model) -> list[Source]:
    first, last = m.days["date"].iloc[0].date(), m.days["date"].iloc[-1].date()
    first_w = first - dt.timedelta(days=int(m.p["smoothing_days"]) - 1)
    return (provenance(ctx, "network_daily", ("hashrate_hs", "block_rewards_btc"), first_w, last)
            + [flows.price_source(ctx, first_w, last, "CryptoQuant daily close: revenue per TH for the fleet's "
                                                     "profitability rule")]
            + [Source(table="package:btcstress/data/asic_fleet.csv", origin="manufacturer specs and launch "
                      "announcements (URL per row)", rows=len(fleet_data.machines())),
               Source(table="package:btcstress/data/asic_prices.csv", origin="ASIC prices per TH (URL per row)",
                      rows=len(fleet_data.prices()))])


def _common(ctx, m: Model, p: dict) -> tuple[costs.CostCurve, dict, dict]:
    c = m.curve()
    _, notes = fleet.params_as_of(ctx.as_of_naive.date())
    unverified = [k for k, v in fleet.params.SOURCES.items() if v["verified"] is False]
    detail = {"day": str(c.date), "fleet_j_per_th": round(c.fleet_j_per_th, 2),
              "network_power_gw": round(c.network_power_gw, 2), "power_price_usd_kwh": c.power_price_usd_kwh,
              "network_th_seconds_per_btc": round(c.thsec_per_btc, 0),
              "btc_issued_per_day_smoothed": round(float(m.days["btc_per_day"].iloc[-1]), 2),
              "hashrate_hs_smoothed": float(m.days["h_th"].iloc[-1]) * 1e12,
              "definitions": {"electricity": round(c.weighted(c.electricity()), 0),
                              "cash": round(c.weighted(c.cash()), 0), "all_in": round(c.weighted(c.all_in()), 0),
                              "marginal": round(c.marginal(), 0)},
              "unpriced_depreciation_share_pct": round(100 * c.unpriced_share, 1),
              "at_a_loss_share_pct": round(100 * float(m.fleet.at_a_loss_th[-1]) / c.running_th, 1),
              "unverified_params": unverified, **({"params_not_yet_published": notes} if notes else {})}
    base = dict(as_of=ctx.as_of, window=f"1d:{c.date}", kind="modelled", params=_model_params(p),
                sources=_model_sources(ctx, m))
    return c, detail, base


def _model_findings(ctx, m: Model, p: dict) -> list[Finding]:
    c, detail, base = _common(ctx, m, p)
    lo, hi = c.most_efficient(), c.least_efficient()
    grid = {}
    for label, pp in (("low", p["power_price_low_usd_kwh"]), ("base", p["power_price_usd_kwh"]),
                      ("high", p["power_price_high_usd_kwh"])):
        a = c.all_in(pp)
        grid[label] = {"power_price_usd_kwh": pp, "fleet_low_most_efficient": round(float(a[lo]), 0),
                       "fleet_base_weighted": round(c.weighted(a), 0),
                       "fleet_high_least_efficient_running": round(float(a[hi]), 0)}
    h = m.history
    pp = f"${c.power_price_usd_kwh}/kWh"
    curve = c.rows()

    def f(fid, value, unit, method, **extra):
        return Finding(id=fid, value=value, unit=unit, method=method, detail={**detail, **extra}, **base)

    dep = c.weighted(c.depreciation_usd_per_btc)
    allin = c.weighted(c.all_in())
    v = model_values(c)
    return [
        f("miners.electricity_cost_usd", v["miners.electricity_cost_usd"], "USD",
          f"{DEFINITIONS['electricity']} ({pp}); hashrate-weighted over the running ASIC generations",
          definition="electricity", cost_curve=curve),
        f("miners.cash_cost_usd", v["miners.cash_cost_usd"], "USD",
          f"{DEFINITIONS['cash']} (${p['non_energy_opex_usd_kwh']}/kWh) at {pp}", definition="cash"),
        f("miners.production_cost_usd", v["miners.production_cost_usd"], "USD",
          f"{DEFINITIONS['all_in']} over {p['depreciation_years']:g} years (machines priced at the latest sourced "
          f"USD/TH on their purchase day), at {pp}", definition="all_in", cost_curve=curve, sensitivity=grid,
          depreciation_usd_per_btc=round(dep, 0), depreciation_share_pct=round(100 * dep / allin, 1)),
        f("miners.marginal_cost_usd", v["miners.marginal_cost_usd"], "USD", f"{DEFINITIONS['marginal']} ({pp})",
          definition="marginal", least_efficient_running=c.names[hi],
          least_efficient_j_per_th=round(float(c.j_per_th[hi]), 1)),
        f("miners.network_power_gw", v["miners.network_power_gw"], "GW",
          "sum over running generations of TH/s x J/TH x PUE (the modelled network power draw)",
          history_1y_mean_gw=round(float(h["network_power_gw"].tail(365).mean()), 2)),
        f("miners.fleet_j_per_th", v["miners.fleet_j_per_th"], "J/TH",
          "hashrate-weighted efficiency of the running generations (machine spec, PUE excluded)",
          history_1y_mean=round(float(h["fleet_j_per_th"].tail(365).mean()), 2)),
    ]


def _priced_findings(ctx, m: Model, p: dict, price, hypo, price_sources, price_how) -> list[Finding]:
    T = ctx.as_of
    if price is None:
        return [not_available(i, T, "no price known at this instant", kind="modelled") for i in PRICED_IDS]
    c, detail, base = _common(ctx, m, p)
    base["sources"] = base["sources"] + price_sources
    pps = {"low": p["power_price_low_usd_kwh"], "base": p["power_price_usd_kwh"], "high": p["power_price_high_usd_kwh"]}
    allin = c.weighted(c.all_in())
    margin = (price - allin) / price * 100
    prev = margin_base(m.history, int(p["zscore_window_days"]))
    unusual = None
    if prev is not None:
        unusual = {"zscore": round(float((margin - prev.mean()) / prev.std()), 2),
                   "percentile": round(float((prev <= margin).mean() * 100), 1),
                   "history": f"{len(prev)}d daily (CryptoQuant close vs modelled all-in cost)", "n": len(prev)}
    kwh = c.weighted(c.kwh_per_btc)
    pd_ = {"price_usd": price, "price_from": price_how}
    out = [Finding(
        id="miners.margin_pct", value=round(margin, 1), unit="pct", hypothetical=hypo, unusual=unusual,
        method="(price - modelled all-in cost per BTC) / price x 100; negative: price below cost",
        detail={**detail, **pd_, "production_cost_usd": round(allin, 0), "definition": "all_in",
                "price_vs_cost_pct": round((price / allin - 1) * 100, 1),
                "margin_by_power_price_pct": {k: round((price - c.weighted(c.all_in(v))) / price * 100, 1)
                                              for k, v in pps.items()}}, **base),
        Finding(
            id="miners.breakeven_power_price_usd_kwh", value=breakeven(c, p, price),
            unit="USD/kWh", hypothetical=hypo,
            method="power price at which the running fleet's cash cost equals the price: price / kWh per BTC - "
                   "non-energy opex per kWh (depreciation excluded: sunk)",
            detail={**detail, **pd_, "kwh_per_btc_weighted": round(kwh, 0),
                    "breakeven_all_in_usd_kwh": round((price - c.weighted(c.depreciation_usd_per_btc)) / kwh
                                                      - p["non_energy_opex_usd_kwh"], 4)}, **base)]
    for fid, basis in (("miners.hashrate_underwater_pct", "all_in"), ("miners.hashrate_underwater_cash_pct", "cash")):
        uw = costs.underwater(c, price, list(pps.values()), basis=basis)
        out.append(Finding(
            id=fid, value=round(uw[p["power_price_usd_kwh"]]["total_pct"], 1), unit="pct", hypothetical=hypo,
            method=f"share of the running hashrate whose {DEFINITIONS[basis]} per BTC is above the price, "
                   f"each generation priced at the stated power price",
            detail={**detail, **pd_, "basis": basis,
                    "by_power_price_pct": {k: round(uw[v]["total_pct"], 1) for k, v in pps.items()},
                    "by_generation": uw[p["power_price_usd_kwh"]]["by_generation"]}, **base))
    return out


# -- values (one definition for the snapshot and the history, metrics/miners_history.py) ---------

def model_values(c: costs.CostCurve) -> dict[str, float]:
    """The modelled findings' values on the curve's day."""
    return {"miners.electricity_cost_usd": round(c.weighted(c.electricity()), 0),
            "miners.cash_cost_usd": round(c.weighted(c.cash()), 0),
            "miners.production_cost_usd": round(c.weighted(c.all_in()), 0),
            "miners.marginal_cost_usd": round(c.marginal(), 0),
            "miners.network_power_gw": round(c.network_power_gw, 2),
            "miners.fleet_j_per_th": round(c.fleet_j_per_th, 2)}


def breakeven(c: costs.CostCurve, p: dict, price: float) -> float:
    return round(price / c.weighted(c.kwh_per_btc) - p["non_energy_opex_usd_kwh"], 4)


def margin_base(h: pd.DataFrame, days: int) -> pd.Series | None:
    """The daily margins (CryptoQuant close vs modelled all-in cost) a margin is compared with: the
    `days` days with a close before the model's last such day; None when 30 or fewer."""
    h = h.dropna(subset=["close"]).tail(days + 1)
    hm = (h["close"] - h["all_in"]) / h["close"] * 100
    return hm.iloc[:-1] if len(hm) > 30 else None


# -- history (series-first; see btcstress.history) ------------------------------------------------

# Definitions in other modules: a change there makes the stored history stale (materialize.version).
HISTORY_CODE = ("btcstress.metrics.miners_flows", "btcstress.metrics.miners_cited", "btcstress.metrics.miners_history_flows",
                "btcstress.fleet.simulate", "btcstress.fleet.costs", "btcstress.fleet.params", "btcstress.fleet.data")
HISTORY_DATA = tuple(("btcstress", f) for f in fleet_data.FILES)  # the sourced fleet, prices, Cambridge


def history(hctx) -> pd.DataFrame:
    """Every miners finding at every instant of hctx.instants, set-based (see miners_history)."""
    from btcstress.metrics.miners_history import rows
    return rows(hctx)


# -- series (charts) -------------------------------------------------------------------------

def series(ctx) -> list[Series]:
    from btcstress.metrics.miners_series import series as charts
    return charts(ctx)
