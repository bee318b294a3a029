"""The scenario area: what happens if BTC goes to a price P, from the findings and rows known at T.
The model itself (the simulated book, the cascade, the parameters) is the pure btcstress.scenario
package; this module reads the store and writes the findings. It runs last, so it can read every
other area's findings. Always: `scenario.ladder`; with a hypothetical price (`--price`): the rest.

Channels (each a finding, kind "modelled", hypothetical, parameters echoed, sources = the rows and
findings used):
- scenario.liquidations_usd: long liquidations triggered on the way down from price.last_usd to P
  (the simulated book of scenario/book.py over the inputs of metrics/scenario_inputs.py);
- scenario.cascade_price_usd, scenario.cascade_extra_move_pct: the fixed point of forced selling ->
  price impact -> more liquidations, starting at P;
- scenario.hashrate_underwater_pct: share of modelled hashrate whose all-in cost per BTC is above P,
  by power price and ASIC generation (the fleet package's cost curve and `underwater`);
- scenario.entities_underwater: treasury companies whose average cost is above P, with their P&L
  (metrics/treasuries.py `underwater_at`), and US spot ETF holders' P&L at P;
- scenario.ladder: the same for the shocks in `ladder_pct` from price.last_usd (the brief's table).

The observed price is always price.last_usd; a user's --price is the scenario price P.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from btcstress.details import EntitiesUnderwater, EtfCostBasis, HashrateUnderwater
from btcstress.errors import NoDataError
from btcstress.findings import Finding, Source, not_available
from btcstress.metrics.context import Context
from btcstress.scenario import book as bk
from btcstress.metrics import scenario_inputs as inp
from btcstress.scenario.params import AREA, DEFAULTS

LIQ_IDS = ("scenario.liquidations_usd", "scenario.cascade_price_usd", "scenario.cascade_extra_move_pct")
LIQ_PARAMS = ("n_positions", "seed", "entry_window_days", "entry_half_life_days", "leverage_buckets",
              "scale_by_leverage_ratio", "leverage_ratio_history_days", "max_leverage", "maintenance_margin",
              "at_risk_share_of_oi", "depth_usd_per_pct", "impact_y", "depth_window_days", "cascade_tolerance_usd",
              "cascade_max_iterations", "at_risk_share_of_oi_fit")


@dataclass
class Model:
    inputs: inp.Inputs
    book: bk.Book
    current: float


def model(ctx: Context, p: dict, current: float) -> Model:
    """The book as of ctx.as_of valued at `current` (cached on the context per parameters and price)."""
    key = (repr(sorted((k, repr(v)) for k, v in p.items())), current)
    cache = ctx.__dict__.setdefault("_scenario_cache", {})
    if key not in cache:
        i = inp.read(ctx, p)
        draws = bk.draw(i.bars, p["leverage_buckets"], int(p["n_positions"]), int(p["seed"]))
        b = bk.build(i.bars, draws, buckets=p["leverage_buckets"], leverage_scale=i.leverage_scale,
                     max_leverage=float(p["max_leverage"]), maintenance_margin=float(p["maintenance_margin"]),
                     current=current, open_interest_usd=i.open_interest_usd * float(p["at_risk_share_of_oi"]))
        cache[key] = Model(i, b, current)
    return cache[key]


def observed(ctx: Context) -> Finding | None:
    f = ctx.observed_price or ctx.finding("price.last_usd")
    return f if f is not None and f.value is not None else None


def params(ctx: Context) -> dict[str, Any]:
    """The area's parameters; the default at-risk share is the leave-one-out fit near a calibration day."""
    from btcstress.scenario import calibration
    p = ctx.area_params(AREA, DEFAULTS)
    if "at_risk_share_of_oi" not in ctx.params.get(AREA, {}):
        share, left_out = calibration.share_at(ctx.as_of_naive, float(DEFAULTS["at_risk_share_of_oi"]))
        if left_out is not None:
            p = {**p, "at_risk_share_of_oi": share}
            p["at_risk_share_of_oi_fit"] = f"leave-one-out: fitted on the backtest's crash days without {left_out}"
            ctx.params_used[AREA] = p
    return p


# -- findings -----------------------------------------------------------------------------------------

def findings(ctx: Context) -> list[Finding]:
    """The metrics area hook: the ladder always; the scenario findings when a price was given."""
    p = params(ctx)
    out: list[Finding] = []
    if ctx.price_override is not None:
        out += at_price(ctx, float(ctx.price_override), p=p)
    out.append(ladder(ctx, [float(x) for x in p["ladder_pct"]], p=p))
    return out


def at_price(ctx: Context, price: float, *, p: dict | None = None, window: str | None = None) -> list[Finding]:
    """Every scenario finding at `price` (from price.last_usd)."""
    p = p or params(ctx)
    obs = observed(ctx)
    if obs is None:
        return [not_available(i, ctx.as_of, "no observed price (price.last_usd) at as-of", kind="modelled",
                              unit=u) for i, u in (*zip(LIQ_IDS, ("USD", "USD", "pct")),
                                                   ("scenario.hashrate_underwater_pct", "pct"),
                                                   ("scenario.entities_underwater", "entities"))]
    current = float(obs.value)
    window = window or f"{_shock(current, price):+.1f}% from {current:,.0f}"
    return (liquidations(ctx, p, obs, price, window) + [hashrate(ctx, price, window, obs),
                                                       entities(ctx, price, window, obs)])


def _shock(current: float, price: float) -> float:
    return (price / current - 1.0) * 100.0


def _base(ctx: Context, window: str, params: dict) -> dict:
    return dict(as_of=ctx.as_of, window=window, kind="modelled", hypothetical=True, params=params)


def liquidations(ctx: Context, p: dict, obs: Finding, price: float, window: str) -> list[Finding]:
    current = float(obs.value)
    lp = {k: p[k] for k in LIQ_PARAMS if k in p}
    try:
        m = model(ctx, p, current)
    except NoDataError as exc:
        return [not_available(i, ctx.as_of, str(exc), unit=u, window=window, kind="modelled")
                for i, u in zip(LIQ_IDS, ("USD", "USD", "pct"))]
    i, b = m.inputs, m.book
    c = bk.cascade(b, price, i.depth_usd_per_pct, tolerance_usd=float(p["cascade_tolerance_usd"]),
                   max_iterations=int(p["cascade_max_iterations"])) if price < current else None
    sources = list(obs.sources) + list(i.sources)
    lp["depth_usd_per_pct_used"] = round(i.depth_usd_per_pct, 0)
    detail = {
        "current_usd": current, "scenario_usd": price, "shock_pct": round(_shock(current, price), 2),
        "open_interest_usd": i.open_interest_usd, "open_interest_date": str(i.oi_date),
        "long_oi_modelled_usd": i.open_interest_usd * float(p["at_risk_share_of_oi"]),
        "leverage_ratio": i.leverage_ratio, "leverage_ratio_median": i.leverage_ratio_median,
        "leverage_scale": round(i.leverage_scale, 4), "entry_bars": f"{i.bar_dates[0]}..{i.bar_dates[-1]}",
        "positions_sampled": b.sampled, "positions_open": b.survivors,
        "positions_liquidated": b.liquidated_count(price) if price < current else 0,
        "mean_leverage_open": round(b.leverage_mean, 2), "depth_usd_per_pct": round(i.depth_usd_per_pct, 0),
        "depth_from": i.depth_from,
    }
    note = None if price < current else ("the scenario price is not below price.last_usd: no long liquidations on "
                                         "the way (short liquidations on a rise are not modelled)")
    base = _base(ctx, window, lp)
    method = ("long open interest (x at_risk_share_of_oi) spread over a seeded simulation of positions opened in "
              "the trailing daily bars (volume-weighted, decaying with age) with a leverage mix scaled by the "
              "estimated leverage ratio; liquidation price = entry x (1 - 1/leverage + maintenance margin); "
              "positions already liquidated by the path since entry removed; liquidations = notional at the "
              "liquidation price of the open positions whose liquidation price is between the scenario price and "
              "price.last_usd")
    direct = c.direct_usd if c else 0.0
    out = [Finding(id="scenario.liquidations_usd", value=round(direct, 0), unit="USD", method=method,
                   sources=sources, detail=detail, note=note, **base)]
    cdetail = {**detail, "liquidations_with_cascade_usd": round(c.total_usd, 0) if c else 0.0,
               "iterations": c.iterations if c else 0, "converged": c.converged if c else True}
    cmethod = ("fixed point of p = P x (1 - liquidations(p) / depth / 100) from the scenario price P: liquidated "
               "longs are market-sold and every depth_usd_per_pct of selling moves the price 1% (linear impact)")
    out.append(Finding(id="scenario.cascade_price_usd", value=round(c.price_usd if c else price, 2), unit="USD",
                       method=cmethod, sources=sources, detail=cdetail, note=note, **base))
    out.append(Finding(id="scenario.cascade_extra_move_pct", value=round(c.extra_move_pct if c else 0.0, 2),
                       unit="pct", method="cascade price / scenario price - 1, in percent", sources=sources,
                       detail=cdetail, note=note, **base))
    return out


def hashrate(ctx: Context, price: float, window: str, obs: Finding) -> Finding:
    from btcstress.fleet import costs
    from btcstress.metrics import miners

    mp = miners.params(ctx)
    m = miners.model(ctx, mp)
    if m is None:
        return not_available("scenario.hashrate_underwater_pct", ctx.as_of,
                             "no network data (hashrate, block rewards) known at this instant", unit="pct",
                             window=window, kind="modelled")
    curve = m.curve()
    pps = {"low": mp["power_price_low_usd_kwh"], "base": mp["power_price_usd_kwh"],
           "high": mp["power_price_high_usd_kwh"]}
    uw = {b: costs.underwater(curve, price, list(pps.values()), basis=b) for b in costs.BASES}
    ref = ctx.finding("miners.production_cost_usd") or ctx.finding("miners.hashrate_underwater_pct")
    sources = list(ref.sources) if ref is not None else []
    params = {k: mp[k] for k in ("power_price_usd_kwh", "power_price_low_usd_kwh", "power_price_high_usd_kwh",
                                  "pue", "non_energy_opex_usd_kwh", "depreciation_years")}
    base = uw["all_in"][pps["base"]]["by_generation"]
    return Finding(
        id="scenario.hashrate_underwater_pct", value=round(uw["all_in"][pps["base"]]["total_pct"], 1), unit="pct",
        method="share of the running hashrate whose all-in cost per BTC (electricity + non-energy opex + "
               "depreciation of the running machines) is above the scenario price, on the miners model's cost "
               "curve of the last complete day",
        sources=sources,
        detail={"scenario_usd": price, "curve_date": str(curve.date),
                **{f"{b}_by_power_price_pct": {k: round(uw[b][v]["total_pct"], 1) for k, v in pps.items()}
                   for b in costs.BASES},
                "by_generation": {n: {"share_pct": round(c["share_pct"], 2),
                                      "all_in_usd_per_btc": round(c["cost_usd_per_btc"], 0),
                                      "underwater": c["underwater"],
                                      "cash_usd_per_btc": round(uw["cash"][pps["base"]]["by_generation"][n]
                                                                ["cost_usd_per_btc"], 0),
                                      "underwater_on_cash": uw["cash"][pps["base"]]["by_generation"][n]["underwater"]}
                                  for n, c in base.items()}},
        **_base(ctx, window, params))


def entities(ctx: Context, price: float, window: str, obs: Finding) -> Finding:
    from btcstress.metrics.treasuries import underwater_at

    under = underwater_at(ctx.findings, price)
    known = {f.subject: f for f in ctx.findings if f.id == "treasury.avg_cost_usd" and f.value is not None}
    sources: list[Source] = []
    for u in under:
        sources += known[u.entity].sources
    rows = [{"entity": u.entity, "holdings_btc": u.holdings_btc, "avg_cost_usd": round(u.avg_cost_usd, 2),
             "pnl_usd": round(u.pnl_usd, 0), "pnl_pct": round(u.pnl_pct, 2)} for u in under]
    etf = ctx.finding("etf.holders_cost_basis_usd")
    etf_row = None
    if etf is not None and etf.value is not None:
        cost = float(etf.value)
        basis = EtfCostBasis.of(etf)
        net_btc, net_usd = basis.net_btc, basis.net_usd
        etf_row = {"subject": etf.subject, "cost_basis_usd": cost, "pnl_pct": round((price / cost - 1.0) * 100.0, 2),
                   "unrealized_usd": round(net_btc * price - net_usd, 0) if net_btc and net_usd else None,
                   "net_btc": net_btc, "underwater": price < cost}
        sources += etf.sources
    detail = {"scenario_usd": price, "entities": rows, "entities_with_known_cost": len(known),
              "treasury_pnl_usd": round(sum(u.pnl_usd for u in under), 0), "etf_holders": etf_row,
              "names": [u.entity for u in under]}
    note = None if etf_row is not None else "ETF holders' cost basis not available at as-of"
    return Finding(id="scenario.entities_underwater", value=len(under), unit="entities", sources=sources,
                   method="treasury companies with a published average cost above the scenario price (holdings x "
                          "(price - average cost) each, deepest loss first); US spot ETF holders' P&L = price / "
                          "flow-weighted cost basis - 1", detail=detail, note=note,
                   **_base(ctx, window, {}))


def ladder(ctx: Context, shocks_pct: list[float], *, p: dict | None = None) -> Finding:
    """The scenario findings at each shock from price.last_usd, as one table-valued finding."""
    p = p or params(ctx)
    obs = observed(ctx)
    if obs is None:
        return not_available("scenario.ladder", ctx.as_of, "no observed price (price.last_usd) at as-of",
                             unit="table", kind="modelled")
    current = float(obs.value)
    rows, sources, notes = [], [], []
    for s in shocks_pct:
        price = current * (1.0 + s / 100.0)
        fs = {f.id: f for f in at_price(ctx, price, p=p, window=f"{s:+.0f}%")}
        row: dict[str, Any] = {"shock_pct": s, "price_usd": round(price, 2)}
        for fid, key in (("scenario.liquidations_usd", "liquidations_usd"),
                         ("scenario.cascade_price_usd", "cascade_price_usd"),
                         ("scenario.cascade_extra_move_pct", "cascade_extra_move_pct"),
                         ("scenario.hashrate_underwater_pct", "hashrate_underwater_pct"),
                         ("scenario.entities_underwater", "treasuries_underwater")):
            f = fs.get(fid)
            row[key] = f.value if f is not None else None
            if f is not None and f.value is None and f.note:
                notes.append(f"{fid}: {f.note}")
        h, e = fs.get("scenario.hashrate_underwater_pct"), fs.get("scenario.entities_underwater")
        row["hashrate_underwater_cash_pct"] = (
            HashrateUnderwater.of(h).cash_by_power_price_pct["base"] if h is not None and h.value is not None else None)
        under = EntitiesUnderwater.of(e) if e is not None and e.value is not None else None
        row["treasuries_underwater_names"] = under.names if under is not None else None
        row["treasury_pnl_usd"] = under.treasury_pnl_usd if under is not None else None
        etf = under.etf_holders if under is not None else None
        row["etf_holders_pnl_pct"] = etf.pnl_pct if etf else None
        rows.append(row)
        for f in fs.values():
            sources += f.sources
    return Finding(id="scenario.ladder", value=rows, unit="table", as_of=ctx.as_of,
                   window=f"from {current:,.0f}", kind="modelled", hypothetical=True,
                   params={"ladder_pct": list(shocks_pct), **{k: p[k] for k in LIQ_PARAMS if k in p}},
                   method="the scenario findings (liquidations, cascade, hashrate under water, treasuries under water, "
                          "ETF holders' P&L) at each shock from price.last_usd",
                   sources=sources, detail={"current_usd": current, "price_finding": "price.last_usd"},
                   note="; ".join(dict.fromkeys(notes)) or None)
