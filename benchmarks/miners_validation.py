"""Walk-forward validation of the miner cost model against published estimates: the table in
docs/METRICS.md#walk-forward-validation.

    .venv/bin/python benchmarks/miners_validation.py [--db data/btcstress.duckdb]

For each published production-cost estimate in the store (`miners.published_cost_usd` citations, from
../shared/data/miners/published_production_cost_estimates.csv or `btcstress cite`):

1. The model runs as of the estimate's publication: 00:00 UTC of the publication day, or of the first
   day of the month when only the month is known. So it sees only data published before then, ASIC
   generations released by then, ASIC prices observed by then, and parameters whose sources were
   published by then (`fleet.params_as_of`).
2. It is read under the estimate's definition (electricity / cash / all-in; the publisher's earlier
   stated definition when this one states none) and at the estimate's stated power price when it states
   one (else the model's default of the day).
3. Error = model / published - 1. The median absolute error and the worst row are the targets
   (<= 15% and <= 30%); the numbers are a benchmark result, written down, not tuned.

It also compares the modelled network power and fleet efficiency with Cambridge's published figures
(walk-forward as of each figure's publication, the modelled year's daily mean).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from btcstress import metrics  # noqa: E402
from btcstress.fleet import data as fleet_data  # noqa: E402
from btcstress.metrics import miners, miners_cited  # noqa: E402
from btcstress.metrics.context import Context  # noqa: E402
from btcstress.store import Store  # noqa: E402

FINDING_OF = {"electricity": "miners.electricity_cost_usd", "cash": "miners.cash_cost_usd",
              "all_in": "miners.production_cost_usd"}
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


def model_instant(published: str) -> dt.datetime:
    """00:00 UTC of the publication day (or of the month's first day when only the month is known)."""
    d = dt.date.fromisoformat(published if len(published) == 10 else published + "-01")
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)


def estimates(store: Store) -> list[dict]:
    return miners_cited.published(Context(store=store, as_of=LATEST))


def validate(store: Store) -> dict:
    rows = []
    for e in estimates(store):
        at = model_instant(e["published"])
        fid = FINDING_OF.get(e["definition"])
        row = {"publisher": e["publisher"], "published": e["published"], "value_usd": e["value_usd"],
               "definition": e["definition"], "definition_from": e["definition_from"], "model_as_of": at,
               "power_price_usd_kwh": e["power_price_usd_kwh"], "power_price_from": e["power_price_from"]}
        if fid is None:
            rows.append({**row, "model_usd": None, "error_pct": None, "note": "definition not stated: not compared"})
            continue
        params = {"miners": {"power_price_usd_kwh": e["power_price_usd_kwh"]}} if e["power_price_usd_kwh"] else {}
        fs = metrics.compute(store, at, areas=("miners",), params=params)
        f = fs.get(fid)
        at05 = metrics.compute(store, at, areas=("miners",), params={"miners": {"power_price_usd_kwh": 0.05}}).get(fid)
        row.update(model_usd=f.value, model_window=f.window, used_power_price=f.params["power_price_usd_kwh"],
                   fleet_j_per_th=f.detail["fleet_j_per_th"], network_power_gw=f.detail["network_power_gw"],
                   error_pct=round(100 * (f.value / e["value_usd"] - 1), 1),
                   model_at_005_usd=at05.value, error_at_005_pct=round(100 * (at05.value / e["value_usd"] - 1), 1))
        rows.append(row)
    errs = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
    return {"rows": rows, "median_abs_error_pct": round(statistics.median(errs), 1) if errs else None,
            "max_abs_error_pct": max(errs) if errs else None, "cambridge": cambridge(store)}


def cambridge(store: Store) -> list[dict]:
    out = []
    for e in fleet_data.cambridge():
        at = dt.datetime.combine(e.published + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        ctx = Context(store=store, as_of=at)
        m = miners.model(ctx)
        h = m.history[m.history["date"].dt.year == int(e.period)]
        if e.unit == "TWh":
            hours = 24 * (366 if int(e.period) % 4 == 0 else 365)
            cited, model = e.value * 1000 / hours, float(h["network_power_gw"].mean())
            what, unit = "average network power", "GW"
        else:
            cited, model, what, unit = e.value, float(h["fleet_j_per_th"].mean()), "fleet efficiency", "J/TH"
        out.append({"period": e.period, "what": what, "unit": unit, "cited": round(cited, 2),
                    "published": e.published.isoformat(), "publisher": e.publisher, "model": round(model, 2),
                    "days": len(h), "error_pct": round(100 * (model / cited - 1), 1)})
    return out


def markdown(r: dict) -> str:
    label = {"electricity": "electricity", "cash": "cash", "all_in": "all-in", None: "not stated"}
    out = ["| published estimate | definition (how known) | power price | model as of | model | error | "
           "model at $0.05/kWh | error |", "|---|---|---|---|---:|---:|---:|---:|"]
    for x in r["rows"]:
        how = "stated" if x["definition_from"] == "stated" else "inherited"
        if x["model_usd"] is None:
            out.append(f"| {x['publisher']} {x['published']} ${x['value_usd']:,.0f} | {label[x['definition']]} | | | "
                       f"not compared | | | |")
            continue
        pp = f"${x['used_power_price']}/kWh ({'stated' if x['power_price_from'] == 'stated' else 'inherited' if x['power_price_usd_kwh'] else 'model default'})"
        out.append(f"| {x['publisher']} {x['published']} ${x['value_usd']:,.0f} | {label[x['definition']]} ({how}) | "
                   f"{pp} | {x['model_as_of']:%Y-%m-%d} ({x['model_window']}) | ${x['model_usd']:,.0f} | "
                   f"{x['error_pct']:+.1f}% | ${x['model_at_005_usd']:,.0f} | {x['error_at_005_pct']:+.1f}% |")
    out += ["", f"Median absolute error: {r['median_abs_error_pct']}%; worst row: {r['max_abs_error_pct']}% "
                "(targets: <= 15% and <= 30%).", "",
            "| Cambridge figure (cited) | published | cited | model (walk-forward, daily mean of the year) | error |",
            "|---|---|---:|---:|---:|"]
    for c in r["cambridge"]:
        out.append(f"| {c['what']} {c['period']} | {c['published']} | {c['cited']:g} {c['unit']} | "
                   f"{c['model']:g} {c['unit']} ({c['days']} days) | {c['error_pct']:+.1f}% |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="data/btcstress.duckdb")
    a = ap.parse_args(argv)
    with Store(a.db, read_only=True) as s:
        print(markdown(validate(s)))


if __name__ == "__main__":
    main()
