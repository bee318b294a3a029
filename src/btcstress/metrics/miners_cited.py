"""Figures others published about miners, as kind="cited" findings shown beside the model and never
combined with it:

- `miners.published_cost_usd` (subject: the publisher): production-cost estimates per BTC from the
  `citations` table (the shared file's importer, or `btcstress cite add --finding miners.published_cost_usd`),
  each with its publisher, publication date, stated definition and the definition class the model
  compares it with (`definition_of`).
- `miners.cambridge_electricity_twh` and `miners.cambridge_fleet_j_per_th` (subject: the year): Cambridge's
  published network electricity and hardware efficiency (package file data/cambridge_estimates.csv),
  known from their publication date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

from btcstress.findings import Finding, Source
from btcstress.fleet import data as fleet_data

PUBLISHED_ID = "miners.published_cost_usd"
NOTE = "cited figure, shown beside the model and never combined with it"

# Stated wording -> the model's matching definition (docs/METRICS.md#published-estimates).
_DEFINITIONS = (
    ("all_in", re.compile(r"all[- ]in|fully amorti[sz]ed|amorti[sz]|depreciation", re.I)),
    ("cash", re.compile(r"cash cost", re.I)),
    ("electricity", re.compile(r"electricity|power consumption|energy cost", re.I)),
)
_POWER_PRICE = re.compile(r"\$\s*(0\.\d+)\s*/\s*kWh", re.I)


def definition_of(text: str) -> str | None:
    """The model definition a stated definition matches: 'all_in', 'cash', 'electricity' or None."""
    for name, rx in _DEFINITIONS:
        if rx.search(text or ""):
            return name
    return None


def stated_power_price(text: str) -> float | None:
    m = _POWER_PRICE.search(text or "")
    return float(m.group(1)) if m else None


def classify(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `definition` and `power_price_usd_kwh` to each estimate (rows oldest first). An estimate that
    does not state one takes it from the same publisher's latest earlier estimate that does (a
    publisher's series keeps its method unless it says otherwise), recorded in `definition_from`."""
    last: dict[str, dict[str, Any]] = {}
    out = []
    for r in sorted(rows, key=lambda r: r["known_from"]):
        r = dict(r)
        text = r.get("note") or ""
        stated, pp = definition_of(text), stated_power_price(text)
        prev = last.get(r["publisher"], {})
        r["definition"] = stated or prev.get("definition")
        r["definition_from"] = ("stated" if stated else
                                f"inherited from {r['publisher']} {prev['published']}" if prev.get("definition")
                                else "not stated")
        r["power_price_usd_kwh"] = pp if pp is not None else prev.get("power_price_usd_kwh")
        r["power_price_from"] = ("stated" if pp is not None else
                                 f"inherited from {r['publisher']} {prev['published']}"
                                 if prev.get("power_price_usd_kwh") is not None else "not stated")
        last[r["publisher"]] = {"definition": r["definition"], "power_price_usd_kwh": r["power_price_usd_kwh"],
                                "published": r["published"]}
        out.append(r)
    return out


def published(ctx) -> list[dict[str, Any]]:
    """Published cost estimates known at ctx.as_of, oldest first, classified."""
    t = ctx.table("citations")
    df = t.filter(t.finding_id == PUBLISHED_ID).order_by(["as_of", "subject"]).execute()
    rows = []
    for r in df.itertuples():
        window = r.window if isinstance(r.window, str) else ""
        rows.append({"publisher": r.subject, "published": window.removeprefix("published:") or
                     pd.Timestamp(r.as_of).date().isoformat(), "value_usd": float(r.value),
                     "known_from": pd.Timestamp(r.as_of).to_pydatetime(), "source": r.source,
                     "url": r.url if isinstance(r.url, str) else None,
                     "note": r.note if isinstance(r.note, str) else "", "origin": r.origin, "window": window})
    return classify(rows)


def published_findings(ctx) -> list[Finding]:
    out = []
    for r in published(ctx):
        at = r["known_from"]
        out.append(Finding(
            id=PUBLISHED_ID, subject=r["publisher"], value=r["value_usd"], unit="USD", as_of=ctx.as_of,
            window=r["window"], kind="cited", method=f"published by {r['publisher']}; not computed by btcstress",
            sources=[Source(table="citations", origin=f"{r['source']} ({r['url']})" if r["url"] else r["source"],
                            rows=1, first=at, last=at, note=r["origin"])],
            detail={"publisher": r["publisher"], "published": r["published"], "known_from": at.isoformat(),
                    "stated": r["note"], "definition": r["definition"], "definition_from": r["definition_from"],
                    "power_price_usd_kwh": r["power_price_usd_kwh"], "power_price_from": r["power_price_from"],
                    "url": r["url"]},
            note=NOTE))
    return out


def cambridge_findings(ctx) -> list[Finding]:
    """Cambridge's figures published by ctx.as_of (the newest per measure and year)."""
    out = []
    ids = {"TWh": "miners.cambridge_electricity_twh", "J/TH": "miners.cambridge_fleet_j_per_th"}
    for e in fleet_data.cambridge():
        at = dt.datetime.combine(e.published + dt.timedelta(days=1), dt.time())  # known the day after
        if at > ctx.as_of_naive:
            continue
        detail: dict[str, Any] = {"publisher": e.publisher, "published": e.published.isoformat(), "period": e.period,
                                  "what": e.what, "url": e.source_url}
        if e.unit == "TWh":
            hours = 24 * (366 if int(e.period) % 4 == 0 else 365)
            detail["average_power_gw"] = round(e.value * 1000 / hours, 2)
        out.append(Finding(
            id=ids[e.unit], subject=e.period, value=e.value, unit=e.unit, as_of=ctx.as_of, window=f"1y:{e.period}",
            kind="cited", method=f"published by {e.publisher}; not computed by btcstress",
            sources=[Source(table="package:btcstress/data/cambridge_estimates.csv", origin=e.source_url, rows=1,
                            first=at, last=at)],
            detail=detail, note=NOTE))
    return out
