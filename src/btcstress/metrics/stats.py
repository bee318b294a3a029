"""One rule for the statistics every area attaches to a finding (`Finding.unusual`).

A z-score or percentile says how a value compares with the series' own history. Areas compute them
against their trailing year; this module holds the one minimum history below which a statistic is
not given at all (the same for every area), and how the brief names the base when it is shorter
than a year. Each area's `unusual` carries `n` (observations in the base) and `calendar` ('daily'
or 'trading': US trading days for ETF flows).
"""

from __future__ import annotations

from btcstress.findings import Finding

MIN_HISTORY = 180  # observations: fewer and no z-score or percentile is given, in any area
YEAR = {"daily": 355, "trading": 245}  # observations in a full year (allowing for a few gaps)


def base_n(u: dict) -> int | None:
    n = u.get("n", u.get("days"))
    return int(n) if n is not None else None


def enforce(findings: list[Finding]) -> None:
    """Drop statistics whose base is shorter than MIN_HISTORY (saying so in the note)."""
    for f in findings:
        u = f.unusual
        if not u:
            continue
        n = base_n(u)
        if n is None or n < MIN_HISTORY:
            f.unusual = None
            why = f"no z-score or percentile: {n if n is not None else 'an unknown number of'} observations " \
                  f"of history (the minimum is {MIN_HISTORY})"
            f.note = f"{f.note}; {why}" if f.note else why


def full_year(u: dict) -> bool:
    n = base_n(u)
    return n is not None and n >= YEAR.get(u.get("calendar", "daily"), YEAR["daily"])


def past(u: dict | None) -> str:
    """'the past year' when the base covers one, else 'the past 231 days' (or trading days)."""
    if not u or full_year(u):
        return "the past year"
    unit = "trading days" if u.get("calendar") == "trading" else "days"
    return f"the past {base_n(u)} {unit}"
