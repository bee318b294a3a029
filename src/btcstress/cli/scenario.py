"""`btcstress scenario`: what happens if BTC goes to a price (the scenario engine's findings)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import (AS_OF, BACKEND, DATE, PARAM, app, console, fail, instant, model_params, read_store, spinner,
                           state)
from btcstress.cli.findings import print_findings
from btcstress.details import Cascade, EntitiesUnderwater, HashrateUnderwater, Ladder, LiquidationsAt
from btcstress.errors import BtcstressError, InputError


@app.command()
def scenario(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE,
             price: Optional[float] = typer.Option(None, "--price", help="Scenario price in USD [default: none]"),
             shock: Optional[str] = typer.Option(None, "--shock", help="Scenario as a change from price.last_usd, "
                                                                      "e.g. -20% [default: none]"),
             ladder: Optional[str] = typer.Option(None, "--ladder", help="Several shocks from price.last_usd, e.g. "
                                                                        "-10,-20,-30 [default: none]"),
             param: list[str] = PARAM,
             as_json: bool = typer.Option(False, "--json", help="The JSON envelope {as_of, as_of_basis, price, count, "
                                                               "findings} with every finding on stdout"),
             backend: Optional[str] = BACKEND):
    """What happens if BTC goes to a price: liquidations and their cascade, hashrate and companies under
    water, and every price-dependent finding re-valued (marked hypothetical)."""
    from btcstress import metrics
    from btcstress.scenario import shock as sh
    try:
        given = [n for n, v in (("--price", price), ("--shock", shock), ("--ladder", ladder)) if v is not None]
        if len(given) != 1:
            raise InputError("give exactly one of --price USD, --shock PCT or --ladder PCT,PCT,..."
                             + (f" (got {', '.join(given)})" if given else ""))
        t = instant(as_of, date)
        params = model_params(param)
        from btcstress.scenario.params import DEFAULTS as scenario_defaults
        unknown = set(params.get("scenario", {})) - set(scenario_defaults)
        if unknown:  # before computing anything
            raise InputError(f"unknown scenario parameter(s) {sorted(unknown)}; known: {sorted(scenario_defaults)}")
        rungs = sh.parse_ladder(ladder) if ladder is not None else None
        pct = sh.parse_shock(shock) if shock is not None else None
        p = sh.check_price(price) if price is not None else None
        with spinner("running the scenario"), read_store(backend) as store:
            if pct is not None:
                now = metrics.compute(store, t, params=params, areas=("price",)).get("price.last_usd")
                if now is None or now.value is None:
                    from btcstress.errors import NoDataError
                    raise NoDataError(f"no observed price (price.last_usd) at {t:%Y-%m-%dT%H:%MZ} to apply --shock to")
                p = sh.shocked_price(float(now.value), pct)
            if rungs is not None:
                params.setdefault("scenario", {})["ladder_pct"] = rungs
            fs = metrics.compute(store, t, params=params, price=p)
        if as_json:  # the envelope of `findings --json`, with every finding (observed and re-valued)
            from btcstress import envelope
            body = envelope.findings_envelope(fs, price=p, basis=state.as_of_basis)
            sys.stdout.write(json.dumps({**body, "shock_pct": pct, "ladder_pct": rungs}, indent=2) + "\n")
            return
        if rungs is not None:
            _print_ladder(fs.get("scenario.ladder"), t)
            return
        _print_scenario(fs, t)
    except BtcstressError as exc:
        fail(exc)


def _print_scenario(fs, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    table = RichTable(title=f"scenario as of {t:%Y-%m-%d %H:%M}Z (hypothetical)")
    for c in ("id", "value", "window", "detail"):
        table.add_column(c, overflow="fold")
    for f in fs:
        if not f.id.startswith("scenario.") or f.id == "scenario.ladder":
            continue
        value = f.note if f.value is None else text(f.value, "usd_short" if f.unit == "USD" and abs(f.value) >= 1e8
                                                    else f.unit)
        extra = ""
        if f.id == "scenario.cascade_price_usd" and f.value is not None:
            c = Cascade.of(f)
            extra = (f"depth {text(c.depth_usd_per_pct, 'usd_short')} per 1%, "
                     f"{text(c.liquidations_with_cascade_usd, 'usd_short')} liquidated incl. cascade")
        elif f.id == "scenario.hashrate_underwater_pct" and f.value is not None:
            h = HashrateUnderwater.of(f)
            extra = f"all-in by power price {h.all_in_by_power_price_pct}; cash cost {h.cash_by_power_price_pct}"
        elif f.id == "scenario.entities_underwater" and f.value is not None:
            u = EntitiesUnderwater.of(f)
            extra = "; ".join(f"{e.entity} {text(e.pnl_usd, 'usd_short')} ({e.pnl_pct:+.1f}%)" for e in u.entities)
            if u.etf_holders is not None:
                extra += f"; ETF holders {u.etf_holders.pnl_pct:+.1f}%"
        elif f.id == "scenario.liquidations_usd" and f.value is not None:
            liq = LiquidationsAt.of(f)
            extra = (f"{liq.current_usd:,.0f} -> {liq.scenario_usd:,.0f}; open interest "
                     f"{text(liq.open_interest_usd, 'usd_short')} ({liq.open_interest_date})")
        table.add_row(f.id, value, f.window, extra)
    console.print(table)
    print_findings([f for f in fs if f.hypothetical and not f.id.startswith("scenario.")], t)


def _print_ladder(f, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    if f is None or f.value is None:
        console.print(f"scenario.ladder: {f.note if f is not None else 'not available'}", highlight=False)
        return
    table = RichTable(title=f"price ladder as of {t:%Y-%m-%d %H:%M}Z from {Ladder.of(f).current_usd:,.0f} (hypothetical)")
    for c in ("shock", "price", "long liquidations", "cascade price", "cascade move", "hashrate under water "
              "(all-in / cash)", "treasuries under water", "ETF holders P&L"):
        table.add_column(c, justify="right")
    for r in f.value:
        table.add_row(f"{r['shock_pct']:+.0f}%", text(r["price_usd"], "USD"), text(r["liquidations_usd"], "usd_short"),
                      text(r["cascade_price_usd"], "USD"), text(r["cascade_extra_move_pct"], "pct"),
                      f"{text(r['hashrate_underwater_pct'], 'pct')} / {text(r['hashrate_underwater_cash_pct'], 'pct')}",
                      f"{r['treasuries_underwater']} ({', '.join(r['treasuries_underwater_names'] or [])})"
                      if r["treasuries_underwater"] is not None else text(None, ""),
                      text(r["etf_holders_pnl_pct"], "pct"))
    console.print(table)

