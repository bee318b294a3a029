"""The fleet model's parameters, each with its source, its publication date and whether the figure was
verified against a stored copy of that source in this project.

`params_as_of(day)` gives the defaults a model run on `day` could have used: a parameter whose source
was published later falls back to the earlier sourced value named in `FALLBACK` (the walk-forward
validation uses it). Sensitivity bounds and modelling choices are labelled as such, not as estimates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

CAMBRIDGE_2025 = ("Cambridge Digital Mining Industry Report (CCAF, 2025-04-29): median delivered power cost "
                  "$45/MWh; all operating costs $55.5/MWh",
                  "https://www.gt-io.net/post/status/11869149", dt.date(2025, 4, 29))

SOURCES: dict[str, dict[str, Any]] = {
    "power_price_usd_kwh": {
        "value": 0.045, "source": CAMBRIDGE_2025[0], "url": CAMBRIDGE_2025[1], "published": CAMBRIDGE_2025[2],
        "verified": True},
    "power_price_low_usd_kwh": {
        "value": 0.03, "source": "sensitivity choice (stranded, hydro or curtailment contracts)", "url": None,
        "published": None, "verified": None},
    "power_price_high_usd_kwh": {
        "value": 0.07, "source": "sensitivity choice (industrial tariffs)", "url": None, "published": None,
        "verified": None},
    "non_energy_opex_usd_kwh": {
        "value": 0.0105, "source": CAMBRIDGE_2025[0] + ": 55.5 - 45 = $10.5/MWh of non-energy operating cost",
        "url": CAMBRIDGE_2025[1], "published": CAMBRIDGE_2025[2], "verified": True},
    "pue": {
        "value": 1.10, "source": "CBECI methodology best guess (bounds 1.01-1.20) as previously quoted; NOT "
                                 "verified: no stored copy of the methodology page shows it",
        "url": "https://ccaf.io/cbnsi/cbeci/methodology", "published": dt.date(2019, 7, 3), "verified": False},
    "depreciation_years": {
        "value": 5.0, "source": "Marathon Digital 10-K for 2022, note 4: mining rigs depreciated over a 5-year "
                                "useful life (straight line)",
        "url": "https://ir.marathondh.com/sec-filings/all-sec-filings/xbrl_doc_only/10084",
        "published": dt.date(2023, 2, 28), "verified": True},
    "tier_power_low_usd_kwh": {
        "value": 0.018, "source": "K33 Research (2022-03-21): Stronghold, the listed miner with the cheapest "
                                  "power, pays $18/MWh",
        "url": "https://k33.com/research/archive/articles/which-miners-have-access-to-the-cheapest-electricity",
        "published": dt.date(2022, 3, 21), "verified": True},
    "tier_power_high_usd_kwh": {
        "value": 0.08, "source": "Luxor's Jaran Mellerud (2022): many miners pay $0.07-0.08/kWh",
        "url": "https://extracrypto.net/bitcoin-mining-difficulty-drops-the-most-since-july-2021-as-crypto-winter-"
               "cuts-profitability/", "published": dt.date(2022, 7, 22), "verified": True},
    "power_tiers": {
        "value": 7, "source": "modelling choice: power prices spread evenly between the two sourced ends "
                              "(resolution of the distribution)", "url": None, "published": None, "verified": None},
    "smoothing_days": {
        "value": 7, "source": "Hashrate Index quotes hashrate as a 7-day SMA",
        "url": "https://hashrateindex.com/blog/-hashrate-index-roundup-8721/", "published": dt.date(2021, 8, 7),
        "verified": True},
    "fleet_start": {
        "value": "2016-01-01", "source": "modelling choice: the first sourced generation (Antminer S7) is on sale "
                                         "by 2015-12-25; the simulation starts with the whole fleet in it",
        "url": None, "published": None, "verified": None},
}

# Earlier values a walk-forward run uses before a parameter's source was published.
FALLBACK: dict[str, dict[str, Any]] = {
    "power_price_usd_kwh": {"value": 0.05, "source": "CBECI methodology and JPMorgan's production-cost notes use "
                                                     "$0.05/kWh (JPMorgan 2024-02-29 row of the shared estimates)",
                            "url": "https://www.forexlive.com/Cryptocurrency/jp-morgan-analysts-project-bitcoinusd-"
                                   "price-will-drop-to-42000-after-halving-20240229/",
                            "published": dt.date(2024, 2, 29)},
}

DEFAULTS: dict[str, Any] = {k: v["value"] for k, v in SOURCES.items()}


def params_as_of(day: dt.date, overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Defaults usable on `day` (sources published by then), with `overrides` on top, and a note per
    parameter that fell back or is not available."""
    p, notes = dict(DEFAULTS), {}
    for k, s in SOURCES.items():
        pub = s["published"]
        if pub is None or pub <= day:
            continue
        fb = FALLBACK.get(k)
        if fb and fb["published"] <= day:
            p[k] = fb["value"]
            notes[k] = f"{s['source']} not yet published on {day}: {fb['source']}"
        else:
            notes[k] = f"{s['source']} not yet published on {day}; no earlier source: used anyway"
    p.update(overrides or {})
    return p, notes


def listing() -> list[dict[str, Any]]:
    """Every parameter with its default, source, URL, publication date and verification (for docs/CLI)."""
    return [{"name": k, "default": v["value"], "source": v["source"], "url": v["url"],
             "published": v["published"].isoformat() if v["published"] else None, "verified": v["verified"]}
            for k, v in SOURCES.items()]
