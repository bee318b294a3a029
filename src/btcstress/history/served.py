"""All findings as of one instant, served from `finding_history` where it may be, computed where not.

What `findings --as-of T`, GET /findings, the dashboard's as-of step and the Python API's `findings`
answer with. Per area, one of two ways, and the answer says which (`Served.how`, the envelope's
`served`), so a stored value is never passed off as freshly derived and a stale store never served:

- **stored**: the area is materialised, its materialisation is fresh (same code version, nothing
  ingested since: `materialize.fresh_areas`), T is on the grid and inside what was built, and the
  question is the plain one (observed price, default parameters, no `derive`). Its findings are the
  stored rows at T (values, units, windows, notes, z-scores equal to the snapshot's: the parity
  tests) with the provenance a stored row has: the finding catalogue's definition as `method`, one
  source, the `finding_history` row itself (rows=1, code version and watermark in `origin`, dated by
  the newest data its window names so the CLI's stale marker reads as computed: `_newest`), and
  `detail.served` saying so. A cited figure (kind "cited") is served with its citation as the snapshot
  gives it (method, sources, detail: finding_history's `cite`), never without it (an area with a cited
  row lacking one is computed). The row-level derivation of the others (the source tables' rows, the
  detail dict) is not stored: `--derive` / `?derive=true` computes it.
- **computed**: everything else, with `metrics.compute` itself, for the areas not served plus every
  area they read (`Area.reads`: a later area reads an earlier one's findings, their detail and
  sources, so those are computed too, never stood in for by stored rows); only the asked areas'
  findings are kept from it.

Chart series and the brief's detail dicts are not in `finding_history`: a question with series
(`with_series`) computes, or, at a day instant, reads the whole snapshot `ingest` stored
(history/snapshots.py: what the brief, GET /brief and /series read). The live monitor reads neither: it
evaluates its rules at "now" on just-ingested rows, off the grid by construction, so it computes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from btcstress import areas as registry
from btcstress.errors import NoDataError
from btcstress.findings import Finding, FindingSet, Source, iso
from btcstress.store import utc_naive

DERIVE_HINT = "the row-level derivation (sources, detail): btcstress findings --derive, GET /findings?derive=true"


@dataclass
class Served:
    fs: FindingSet
    how: dict[str, str] = field(default_factory=dict)  # area -> "stored (...)" | "computed (why)"


def findings_at(store, as_of: dt.datetime, *, params: dict[str, dict[str, Any]] | None = None,
                price: float | None = None, derive: bool = False, with_series: bool = False,
                areas: tuple[str, ...] | None = None, computed: FindingSet | None = None) -> Served:
    """The findings of `areas` (default: all) as of `as_of`, each area stored or computed (see the module).
    `computed`: an already computed FindingSet for the same question to take the computed areas from
    (the API's cached computation with series); else they are computed here."""
    wanted = tuple(a for a in registry.names() if areas is None or a in areas)
    t = utc_naive(as_of)
    stored, why_not = stored_areas(store, as_of, wanted, params=params, price=price, derive=derive,
                                   with_series=with_series)
    todo = [a for a in wanted if a not in stored]
    whole = None
    if todo and computed is None:
        computed, whole = _snapshot(store, as_of, todo, params, price, derive, with_series)
    if todo and computed is None:
        from btcstress import metrics
        computed = metrics.compute(store, as_of, params=params, price=price, areas=registry.closure(todo),
                                   with_series=with_series)
    got = merge(store, t, wanted, stored, why_not, computed)
    if whole is not None:  # the areas not in finding_history came from the stored snapshot: say so
        got.how.update({a: whole for a in todo if got.how.get(a, "").startswith("computed")})
    return got


def _snapshot(store, as_of, todo, params, price, derive, with_series) -> tuple[FindingSet | None, str | None]:
    """The whole snapshot stored at a day instant (history/snapshots.py), when a fresh one answers the
    areas not in finding_history (the scenario ladder and what it reads) as computed, with their
    derivation; else (None, None). Without series, not when the stress area is among them: with series
    it also holds the episode findings, which a question without series does not."""
    from btcstress.history import snapshots
    if derive or (not with_series and "stress" in registry.closure(todo)):
        return None, None
    fs, how = snapshots.load(store, as_of, params=params, price=price)
    if fs is None:
        return None, None
    return (fs if with_series else FindingSet(fs.as_of, fs.findings, {}, fs.params)), how


def stored_areas(store, as_of: dt.datetime, wanted: tuple[str, ...], *, params=None, price=None, derive=False,
                 with_series=False) -> tuple[dict[str, str], dict[str, str]]:
    """({area: watermark} the store may answer, {area: why it must be computed})."""
    why = why_compute(params, price, derive, with_series)
    if why is not None:
        return {}, {a: why for a in wanted}
    return _servable(store, utc_naive(as_of), wanted)


def merge(store, t: dt.datetime, wanted: tuple[str, ...], stored: dict[str, str], why_not: dict[str, str],
          computed: FindingSet | None) -> Served:
    """The stored areas' rows at t and the other areas' findings from `computed`, in registry order."""
    how: dict[str, str] = {}
    by_area: dict[str, list[Finding]] = {}
    as_of = t.replace(tzinfo=dt.timezone.utc)
    if stored:
        rows = _rows(store, t, tuple(stored))
        flags = _flags(store, t)
        redo = {a: "a data-quality flag known at this instant may mark its findings (the marks are not stored)"
                for a in stored if _may_be_marked(rows.get(a, []), t, flags)}
        redo.update({a: "a cited figure's citation is missing from finding_history" for a in stored
                     if any(r["kind"] == "cited" and not r.get("cite") and (r["value"] is not None or
                                                                            r["value_text"] is not None)
                            for r in rows.get(a, []))})
        if redo:  # never a cited figure without its citation, nor a finding without its quality mark
            stored = {a: m for a, m in stored.items() if a not in redo}
            why_not = {**why_not, **redo}
            from btcstress import metrics
            again = metrics.compute(store, as_of, areas=registry.closure(tuple(redo)))
            for a in redo:
                prefixes = registry.get(a).prefixes
                by_area[a] = [f for f in again if f.id.split(".", 1)[0] in prefixes]
                how[a] = f"computed ({redo[a]})"
        for a, mark in stored.items():
            mine = rows.get(a, [])
            by_area[a] = [_finding(r, as_of, mark, mine) for r in mine]
            how[a] = f"stored (finding_history, fresh through {mark})"
    for a in wanted:
        if a not in stored and a not in by_area:
            prefixes = registry.get(a).prefixes
            by_area[a] = [f for f in computed if f.id.split(".", 1)[0] in prefixes]
            how[a] = f"computed ({why_not[a]})"
    out = [f for a in wanted for f in by_area.get(a, [])]
    series, used = (computed.series, computed.params) if computed is not None else ({}, {})
    return Served(FindingSet(as_of, out, series, used), {a: how[a] for a in wanted if a in how})


def areas_for(ids: list[str] | None) -> tuple[str, ...] | None:
    """The areas that emit the ids or id prefixes asked for (None: all)."""
    if not ids:
        return None
    found = {a.name for i in ids for a in [registry.of_finding(i)] if a is not None}
    return tuple(n for n in registry.names() if n in found)


def why_compute(params, price, derive, with_series) -> str | None:
    """Why the whole question must be computed, or None when stored rows may answer it."""
    if derive:
        return "derive asked"
    if price is not None:
        return "hypothetical price"
    if any(params.values()) if params else False:
        return "parameters other than the defaults"
    if with_series:
        return "chart series asked"
    return None


def _servable(store, t: dt.datetime, wanted: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """({area: watermark it is fresh through} for the areas stored rows may answer at t,
    {area: why not} for the others)."""
    from btcstress.history import materialize as mat
    if getattr(store, "duck", None) is None:
        return {}, {a: "no finding_history on this backend" for a in wanted}
    if not mat._exists(store, mat.STATE):
        return {}, {a: "finding_history not built" for a in wanted}
    state = mat.state(store)
    fresh = mat.fresh_areas(store, state)
    st = state.set_index("area")
    candles = _candles(store)
    _require_data(candles, t)
    grid_ok = _on_grid(candles, t)
    ok, why = {}, {}
    for a in wanted:
        if a not in st.index:
            why[a] = "not materialised"
        elif a not in fresh:
            why[a] = "finding_history stale: ingested or code changed since it was built"
        elif not grid_ok:
            why[a] = "off the grid"
        elif not mat.covers(st.loc[a], [t]):  # outside first..last, or an hour's end of an area stored daily
            why[a] = ("stored at day ends only" if st.loc[a].get("grid") == "daily"
                      and st.loc[a, "first"] <= t <= st.loc[a, "last"] else "outside the materialised range")
        else:
            ok[a] = iso(pd.Timestamp(st.loc[a, "watermark"]).to_pydatetime())
    return ok, why


def cites(area: str) -> bool:
    """Whether the area's catalogue declares cited findings (a figure someone else published): served only
    with their citation (finding_history's `cite`: publisher, date, definition, source), never without."""
    return any("cited" in f.kind for f in registry.get(area).findings)


# Findings whose value the snapshot holds as a Python int (finding_history stores every number as a
# double): the served value is an int again, so `2` is not shown as `2.00`.
WHOLE = frozenset({"etf.outflow_streak_days", "liquidations.count", "scenario.entities_underwater"})


def _whole(fid: str) -> bool:
    spec = registry.finding(fid)
    return fid in WHOLE or (fid.startswith("market.") and spec is not None and spec.unit == "index")


# The CLI marks a value stale when its newest source row is over 3 days old (cli.findings.stale_since).
# A stored row has no source rows; its newest data is the last date its window names ("1d:2026-01-30",
# "since:2024-01-11..2026-01-30", "holdings as of 2026-01-25"), except where the snapshot's sources say
# otherwise: a value at the observed price reads the latest bars too (never stale while there are bars),
# a streak that is "none at" a day cites no rows, and the treasuries' total reads each entity's report.
AT_PRICE = frozenset({"etf.holders_pnl_pct", "treasury.value_usd", "treasury.unrealized_pnl_usd",
                      "treasury.unrealized_pnl_pct"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# Which stored findings a flag on a table can mark (quality.mark matches a flag against a finding's
# sources): table -> ((id prefix, "day" when that table's source of such a finding is the window's last day
# only, so only a flag on that day marks it; else "span": any flag up to 31 days before it may)). Candles
# are left out: the price area applies its flags to its values, in its history too, and mark skips them.
# tests/history/test_served.py holds this against the computed findings' sources at its instants.
READERS = {
    "etf_aum": (("etf.aum_usd", "day"),), "etf_flows": (("etf.", "span"), ("stress.", "span")),
    "treasury_holdings": (("treasury.holdings_btc", "day"), ("treasury.avg_cost_usd", "day"),
                          ("treasury.cost_usd", "day"), ("treasury.breakeven_price_usd", "day"), ("treasury.", "span")),
    "treasury_valuation_daily": (("treasury.mnav", "span"), ("stress.", "span")),
    "derivatives_daily": (("derivatives.", "span"), ("stress.", "span")),
    "liquidations_daily": (("liquidations.", "span"), ("stress.", "span")),
    "indicators_daily": (("market.", "span"),), "market_cap_daily": (("market.", "span"), ("stress.", "span")),
    "miner_flows_daily": (("miners.", "span"), ("stress.", "span")),
    "network_daily": (("miners.", "span"), ("stress.", "span")),
}


def reach(fid: str, table: str) -> str | None:
    """How a flag on `table` can mark finding `fid` ("day", "span"), or None when it cannot."""
    return next((how for prefix, how in READERS.get(table, ()) if fid.startswith(prefix)), None)


def _flags(store, t: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(table, day) of the non-price data-quality flags known at t (those quality.mark applies)."""
    from btcstress.history import materialize as mat
    if not mat._exists(store, "quality"):
        return []
    return store.duck.execute("SELECT DISTINCT split_part(series, ':', 1), ts FROM quality WHERE NOT "
                              "starts_with(series, 'candles:') AND available_at <= ?", [t]).fetchall()


def _may_be_marked(rows: list[dict], t: dt.datetime, flags: list[tuple[str, dt.datetime]]) -> bool:
    """Whether quality.mark could mark one of these stored rows at t: it marks a finding whose source (from
    the flag's table, `READERS`) ends on the flagged day or spans at most 31 days including it. A stored
    row has no sources; its newest data is the last date its window names (or t), so a flag on that day,
    or for a "span" reader any flag within 31 days before it, counts (a superset: never a miss)."""
    if not flags:
        return False
    from btcstress.quality.mark import SHORT_SPAN
    for r in rows:
        if r["value"] is None and r["value_text"] is None:
            continue
        dates = _DATE.findall(r["window"] or "")
        newest = _newest(r, rows) if r["id"] == "treasury.total_holdings_btc" else (
            dt.datetime.fromisoformat(max(dates)) if dates else t)
        newest = newest or t
        for table, day in flags:
            how = reach(r["id"], table)
            if how == "day" and day == newest or how == "span" and newest - SHORT_SPAN - dt.timedelta(days=1) <= day <= newest:
                return True
    return False


def _naive_iso(v: str | None) -> dt.datetime | None:
    """A citation's stored ISO time ("...Z") as the snapshot's Source holds it (naive UTC)."""
    return None if v is None else utc_naive(dt.datetime.fromisoformat(v.replace("Z", "+00:00")))


def _newest(r: dict, same_instant: list[dict]) -> dt.datetime | None:
    """The newest data a stored row rests on, by the rule above (None: not stale by construction)."""
    if r["id"] in AT_PRICE or (r["window"] or "").startswith("streak:none at"):
        return None
    if r["id"] == "treasury.total_holdings_btc":
        dates = [d for x in same_instant if x["id"] == "treasury.avg_cost_usd" and x["value"] is not None
                 for d in _DATE.findall(x["window"] or "")]
    else:
        dates = _DATE.findall(r["window"] or "")
    return dt.datetime.fromisoformat(max(dates)) if dates else None


def _candles(store) -> tuple:
    """(first bar's open, last bar's close, first and last hourly bar's close) in one plain-SQL query
    (calendar.py asks Ibis, which costs more than the whole stored answer)."""
    return store.duck.execute("SELECT min(open_time), max(available_at), min(available_at) FILTER "
                              "(interval = '1h'), max(available_at) FILTER (interval = '1h') FROM candles").fetchone()


def _on_grid(candles: tuple, t: dt.datetime) -> bool:
    """Each day's instant (D+1 07:00, calendar.is_day_instant), or an hour's end where the store has
    hourly bars (calendar.on_grid)."""
    from btcstress.history.calendar import is_day_instant
    if is_day_instant(t):
        return True
    if t != t.replace(minute=0, second=0, microsecond=0):
        return False
    lo, hi = candles[2], candles[3]
    return lo is not None and lo <= t <= hi


def _require_data(candles: tuple, t: dt.datetime) -> None:
    """What Context.require_data refuses, refused the same way (a stored answer is no more lenient)."""
    first, last = candles[0], candles[1]
    if first is None:
        raise NoDataError("the store holds no price data: run `btcstress ingest snapshot` first")
    if t < first:
        raise NoDataError(f"no price data before {first.date()}")
    if t > last + dt.timedelta(days=2):
        raise NoDataError(f"no price data after {last.date()}")


def _rows(store, t: dt.datetime, areas: tuple[str, ...]) -> dict[str, list[dict]]:
    """The stored rows at t of `areas`, in the order they were written (the snapshot's emission order)."""
    from btcstress.history import COLUMNS
    from btcstress.history import materialize as mat
    cols = ", ".join(f'h."{c}"' for c in ["area", *COLUMNS[1:]])
    # A store materialised before citations were stored has no citation table: its cited rows have none
    # (and `merge` computes their areas).
    cite = (f"c.body AS cite FROM {mat.TABLE} h LEFT JOIN {mat.CITATIONS} c ON c.key = h.cite"
            if mat._exists(store, mat.CITATIONS) else f"NULL AS cite FROM {mat.TABLE} h")
    cur = store.duck.execute(f"SELECT {cols}, {cite} WHERE h.as_of = ? AND h.area IN ({', '.join('?' * len(areas))}) "
                             "ORDER BY h.rowid", [t, *areas])
    names = [d[0] for d in cur.description]
    out: dict[str, list[dict]] = {}
    for row in cur.fetchall():  # plain tuples: NULL is None, no NaN to clean
        r = dict(zip(names, row))
        for c in ("value", "zscore", "percentile"):
            if isinstance(r[c], float) and math.isnan(r[c]):
                r[c] = None
        out.setdefault(r["area"], []).append(r)
    return out


def _finding(r: dict, as_of: dt.datetime, mark: str, same_instant: list[dict]) -> Finding:
    """A stored row as a Finding, with the provenance a stored row has (and no more): a cited one with
    its citation as the snapshot gives it; any other with finding_history as its source, dated by the
    newest data its window names (so a stale value is marked as the computed one is)."""
    from btcstress.history import value_of
    spec = registry.finding(r["id"])
    z, p = r["zscore"], r["percentile"]
    cite = json.loads(r["cite"]) if r.get("cite") else None
    unusual = None
    if z is not None or p is not None:
        unusual = {"zscore": None if z is None else float(z), "percentile": None if p is None else float(p),
                   **((cite or {}).get("unusual") or {})}
    value = value_of(r)
    if isinstance(value, float) and value.is_integer() and _whole(r["id"]):
        value = int(value)
    served = f"stored (finding_history, fresh through {mark})"
    base = dict(id=r["id"], subject=r["subject"], value=value, unit=r["unit"] or "", as_of=as_of,
                window=r["window"] or "", kind=r["kind"] or "computed", note=r["note"], unusual=unusual)
    if cite is not None:
        return Finding(**base, method=cite["method"], params=cite["params"], detail={**cite["detail"], "served": served},
                       sources=[Source(**{**s, **{k: _naive_iso(s[k]) for k in ("first", "last")}}) for s in cite["sources"]])
    t = utc_naive(as_of)
    newest = _newest(r, same_instant)
    last = newest if newest is not None and newest < t else t
    src = Source(table="finding_history", origin=f"finding_history (materialised by ingest; fresh through {mark})",
                 rows=1, first=last, last=last, note="the stored value; " + DERIVE_HINT)
    return Finding(**base, method=spec.definition if spec else "", sources=[src],
                   detail={"served": served, "definition": spec.definition if spec else None, "derive": DERIVE_HINT})
