"""A history equals the snapshots it stands for: at >= 100 seeded instants across 2018-2026 (ends of
days, intraday minutes, the first days of each source, the instants preliminary ETF vintages were
published), every series-first area's rows equal `metrics.compute` at that instant, row for row:
same ids, subjects, windows, units, kinds; floats to 1e-9 relative (z-scores and percentiles too);
texts equal; not available exactly where the snapshot says not available."""

from __future__ import annotations

import datetime as dt
import math
import random

import pandas as pd
import pytest

from btcstress import history, metrics
from btcstress.history import row_of
from btcstress.history.calendar import data_range

SEED = 20260206


def _instants(store) -> list[dt.datetime]:
    rng = random.Random(SEED)
    lo, hi = dt.datetime(2018, 1, 1), dt.datetime(2026, 2, 7)
    span = int((hi - lo).total_seconds() // 60)
    # days' instants (D+1 07:00, when D's daily rows are published: schema.day_published)
    eod = {(lo + dt.timedelta(minutes=rng.randrange(span))).replace(hour=7, minute=0) for _ in range(45)}
    intraday = {lo + dt.timedelta(minutes=rng.randrange(span)) for _ in range(45)}
    # Where the data begins or changes: each table's first publication (and a minute before/after),
    # and the instants preliminary ETF vintages were published.
    firsts = set()
    for name in ("candles", "market_cap_daily", "indicators_daily", "events", "etf_flow_days", "etf_flows", "etf_aum",
                 "treasury_holdings", "treasury_valuation_daily"):
        t = store.table(name)
        first = t.available_at.min().execute()
        if first is not None and not pd.isna(first):
            f = pd.Timestamp(first).to_pydatetime()
            firsts |= {f, f - dt.timedelta(minutes=1), f + dt.timedelta(hours=1)}
    # Leverage: the first daily liquidations, funding (2016) and open interest (2019) rows, and just before.
    for name, col in (("liquidations_daily", "long_usd"), ("derivatives_daily", "funding_rate_pct"),
                      ("derivatives_daily", "open_interest_usd")):
        t = store.table(name)
        first = t.filter(t[col].notnull()).available_at.min().execute()
        if first is not None and not pd.isna(first):
            f = pd.Timestamp(first).to_pydatetime()
            firsts |= {f, f - dt.timedelta(minutes=1)}
    firsts |= _miners_firsts(store)
    h = store.table("candles")
    h = h.filter(h.interval == "1h")
    f = pd.Timestamp(h.available_at.min().execute()).to_pydatetime()
    firsts |= {f, f + dt.timedelta(minutes=30), f + dt.timedelta(days=1)}
    days = store.table("etf_flow_days")
    prelim = sorted(pd.Timestamp(x).to_pydatetime() for x in days.filter(days.preliminary).available_at.execute())
    firsts |= set(rng.sample(prelim, min(8, len(prelim))))
    # 8-K filings: the instant one is published (a filing counts from the end of its filing day) and just before.
    th = store.table("treasury_holdings")
    filed = sorted({pd.Timestamp(x).to_pydatetime() for x in th.filter(th.basis == "filing").available_at.execute()})
    for f in rng.sample(filed, min(4, len(filed))):
        firsts |= {f, f - dt.timedelta(minutes=1)}
    firsts |= {dt.datetime(2026, 2, 6, 8, 0), dt.datetime(2026, 2, 6), dt.datetime(2024, 8, 5, 13, 37)}
    r = data_range(store)
    return sorted(t for t in eod | intraday | firsts if r[0] <= t <= r[1])


def _miners_firsts(store) -> set[dt.datetime]:
    """Where the miners' inputs begin or change: each network and miner-flow metric's first publication
    (and a minute before), the fleet model's first day, each ASIC generation's release and each change
    of the sourced parameters (the model runs with what was released/published by T's day), the first
    miners citation and Cambridge figure (known the day after publication)."""
    from btcstress import fleet
    from btcstress.fleet import data as fleet_data
    out = set()
    for name in ("network_daily", "miner_flows_daily"):
        t = store.table(name)
        for r in t.group_by("metric").aggregate(first=t.available_at.min()).execute().itertuples():
            f = pd.Timestamp(r.first).to_pydatetime()
            out |= {f, f - dt.timedelta(minutes=1)}
    start = dt.datetime.fromisoformat(fleet.DEFAULTS["fleet_start"])
    days = int(fleet.DEFAULTS["smoothing_days"])
    out |= {start + dt.timedelta(days=days - 1), start + dt.timedelta(days=days), start + dt.timedelta(days=days + 1)}
    changes = [g.release for g in fleet_data.generations()] + [s["published"] for s in fleet.params.SOURCES.values()
                                                               if s["published"]]
    changes += [f["published"] for f in fleet.params.FALLBACK.values()]
    for d in changes:
        f = dt.datetime.combine(d, dt.time())
        out |= {f, f - dt.timedelta(minutes=1), f + dt.timedelta(hours=8)}
    c = store.table("citations")
    first = c.filter(c.finding_id.startswith("miners.")).available_at.min().execute()
    if first is not None and not pd.isna(first):
        out.add(pd.Timestamp(first).to_pydatetime())
    first_cambridge = min(e.published for e in fleet_data.cambridge()) + dt.timedelta(days=1)
    out.add(dt.datetime.combine(first_cambridge, dt.time()))
    return out


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return False
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


# The instants are compared in PARTS parametrized parts so that `pytest -n 2` shares the snapshots (the
# costly side: one full computation per instant) between its workers. Every part compares against the one
# history computed over all the instants at once, as before; together the parts cover every instant.
# Eight parts (~40 s each on an idle core in session 4's CI, 85 s as four) so the last items a worker takes
# are short and the two workers finish together; the history is still computed once per worker.
PARTS = 8


@pytest.fixture(scope="module")
def parity(snapshot_db):
    """(series-first areas, the seeded instants, their history computed in one call), once per worker."""
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        areas = tuple(history.area_name(m) for m in history.area_modules() if history.series_first(m))
        instants = _instants(s)
        return areas, instants, history.compute(s, instants, areas=areas, fallback=False).rows


def test_the_history_covers_at_least_100_seeded_instants(parity):
    areas, instants, got = parity
    assert {"price", "market", "etf", "treasuries", "leverage", "miners"} <= set(areas)
    assert len(instants) >= 100
    assert set(got["as_of"]) == set(instants)


@pytest.mark.parametrize("part", range(PARTS))
def test_history_equals_the_snapshot_at_every_instant(store, parity, part):
    areas, instants, got = parity
    problems = []
    for t in instants[part::PARTS]:
        snap = [row_of(f, t) for f in metrics.compute(store, t, areas=areas)]
        hist = got[got["as_of"] == t].to_dict("records")
        key = lambda r: (r["id"], r["subject"], r["window"], r["kind"])  # noqa: E731
        want = {key(r): r for r in snap}
        have = {key(r): r for r in hist}
        if want.keys() != have.keys():
            problems.append(f"{t}: only in snapshot {sorted(want.keys() - have.keys())}, "
                            f"only in history {sorted(have.keys() - want.keys())}")
            continue
        for k, w in want.items():
            h = have[k]
            for col in ("value", "value_text", "unit", "zscore", "percentile"):
                if not _same(w[col], h[col]):
                    problems.append(f"{t} {k} {col}: snapshot {w[col]!r} history {h[col]!r}")
            na_w = (w["note"] or "").startswith("not available")
            na_h = (h["note"] or "").startswith("not available")
            if na_w != na_h:
                problems.append(f"{t} {k}: snapshot note {w['note']!r}, history note {h['note']!r}")
    assert not problems, "\n".join(problems[:30]) + f"\n... {len(problems)} differences"


def test_a_history_never_sees_a_later_row(store):
    """The value at T does not change when rows published after T are hidden (cut the store at T)."""
    t = dt.datetime(2026, 2, 5, 12, 0)
    areas = ("price", "market", "leverage", "etf", "treasuries", "miners")
    whole = history.compute(store, [t], areas=areas, fallback=False).rows

    class Cut:
        def __init__(self, s):
            self.s = s

        def table(self, name, as_of=None):  # as Store.table, an aware or a naive UTC instant (a Context's is aware)
            from btcstress.store import utc_naive
            return self.s.table(name, min(utc_naive(as_of), t) if as_of else t)

    cut = history.compute(Cut(store), [t], areas=areas, fallback=False).rows
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), cut.reset_index(drop=True))
    low = whole[whole["id"] == "price.low_24h_usd"]["value"].iloc[0]
    assert low > 60_030  # the 2026-02-06 low is not known at 2026-02-05T12:00Z
    # The ETF day is the latest trading day with a vintage published by t (from the raw rows).
    d = store.table("etf_flow_days")
    day = d.filter((d.available_at <= t) & (d.funds_reported > 0)).date.max().execute()
    net = whole[whole["id"] == "etf.net_flow_usd"]
    assert net["window"].tolist() == [f"1d:{pd.Timestamp(day).date()}"]
    # The miners' day is the latest network day with a row published by t.
    n = store.table("network_daily")
    nday = pd.Timestamp(n.filter(n.available_at <= t).date.max().execute()).date()
    cost = whole[whole["id"] == "miners.production_cost_usd"]
    assert cost["window"].tolist() == [f"1d:{nday}"] and nday < t.date()


@pytest.mark.parametrize("area", ["market"])
def test_the_fallback_is_the_snapshot(store, area):
    """An area evaluated per instant gives the snapshot's rows (fallback path, documented)."""
    from btcstress.history.fallback import snapshot_rows
    t = dt.datetime(2025, 3, 1)
    rows = snapshot_rows(store, area, [t])
    snap = [row_of(f, t) for f in metrics.compute(store, t, areas=("price", area)) if f.id.startswith(area)]
    assert [r["id"] for r in snap] == rows["id"].tolist()
    assert all(_same(a["value"], b) for a, b in zip(snap, rows["value"]))
