"""The ETF and treasuries histories on tiny hand-written rows: equal to the snapshot at every instant
around each publication (a preliminary vintage with a fund missing, its final vintage, a holiday row,
a fund row published after its vintage, a filing, a daily holdings series), values checked by hand,
and the incremental refresh of finding_history after a revised vintage is ingested."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa

from btcstress import history, metrics
from btcstress.history import materialize, row_of
from btcstress.history.calendar import DAY_END
from btcstress.store import Store

D = dt.date
T = dt.datetime
ORIGIN = "test"


def _bars(days: list[dt.date]) -> pa.Table:
    opens = [T(d.year, d.month, d.day) for d in days]
    closes = [40_000.0 + 100 * i for i in range(len(days))]
    n = len(days)
    return pa.table({"venue": ["cryptoquant"] * n, "symbol": ["BTC-USD"] * n, "interval": ["1d"] * n, "open_time": opens,
                     "open": closes, "high": [c + 50 for c in closes], "low": [c - 50 for c in closes], "close": closes,
                     "volume": [1.0] * n, "origin": [ORIGIN] * n})


def _flows(rows: list[tuple]) -> pa.Table:
    """(date, fund, vintage, net_flow_usd, available_at)"""
    d, f, v, x, a = zip(*rows)
    return pa.table({"date": list(d), "fund": list(f), "vintage": list(v), "net_flow_usd": pa.array(x, pa.float64()),
                     "origin": [ORIGIN] * len(rows), "available_at": list(a)})


def _days(rows: list[tuple]) -> pa.Table:
    """(date, vintage, total_usd, funds_reported, missing_funds, preliminary)"""
    d, v, tot, n, m, p = zip(*rows)
    return pa.table({"date": list(d), "vintage": list(v), "total_usd": pa.array(tot, pa.float64()),
                     "funds_reported": list(n), "missing_funds": list(m), "preliminary": list(p),
                     "origin": [ORIGIN] * len(rows), "available_at": list(v)})


def _holdings(rows: list[tuple]) -> pa.Table:
    """(entity, as_of, btc, cost_usd, basis, available_at)"""
    e, a, b, c, bs, av = zip(*rows)
    return pa.table({"entity": list(e), "as_of": list(a), "btc": list(b), "cost_usd": pa.array(c, pa.float64()),
                     "basis": list(bs), "origin": [ORIGIN + "/" + x for x in bs], "available_at": list(av)})


def _store(path) -> Store:
    s = Store(path)
    s.upsert("candles", _bars([D(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]), ingested_at=T(2026, 1, 1))
    # Day 1 (Mon 2024-01-08): preliminary at 08:00 without B, final at 18:00. Day 2: a holiday row
    # (no fund reported). Day 3 (Wed): an outflow; fund B's row of the final vintage published an hour late.
    s.upsert("etf_flow_days", _days([
        (D(2024, 1, 8), T(2024, 1, 9, 8), None, 1, "B", True),
        (D(2024, 1, 8), T(2024, 1, 9, 18), 300.0, 2, "", False),
        (D(2024, 1, 9), T(2024, 1, 10, 18), 0.0, 0, "", False),
        (D(2024, 1, 10), T(2024, 1, 11, 18), -150.0, 2, "", False),
    ]), ingested_at=T(2026, 1, 1))
    s.upsert("etf_flows", _flows([
        (D(2024, 1, 8), "A", T(2024, 1, 9, 8), 100.0, T(2024, 1, 9, 8)),
        (D(2024, 1, 8), "B", T(2024, 1, 9, 8), None, T(2024, 1, 9, 8)),
        (D(2024, 1, 8), "A", T(2024, 1, 9, 18), 120.0, T(2024, 1, 9, 18)),
        (D(2024, 1, 8), "B", T(2024, 1, 9, 18), 180.0, T(2024, 1, 9, 18)),
        (D(2024, 1, 10), "A", T(2024, 1, 11, 18), -50.0, T(2024, 1, 11, 18)),
        (D(2024, 1, 10), "B", T(2024, 1, 11, 18), -100.0, T(2024, 1, 11, 19)),
    ]), ingested_at=T(2026, 1, 1))
    s.upsert("treasury_holdings", _holdings([
        ("Alpha", D(2024, 1, 5), 10.0, 400_000.0, "filing", T(2024, 1, 9)),
        ("Alpha", D(2024, 1, 9), 12.0, 500_000.0, "filing", T(2024, 1, 11)),
        ("Alpha", D(2024, 1, 10), 13.0, None, "daily", T(2024, 1, 11, 18)),
        ("Beta", D(2024, 1, 8), 5.0, None, "daily", T(2024, 1, 9, 18)),
    ]), ingested_at=T(2026, 1, 1))
    return s


def _instants() -> list[dt.datetime]:
    marks = [T(2024, 1, 9), T(2024, 1, 9, 8), T(2024, 1, 9, 18), T(2024, 1, 10, 18), T(2024, 1, 11), T(2024, 1, 11, 18),
             T(2024, 1, 11, 19)]
    out = set()
    for m in marks:
        out |= {m - dt.timedelta(minutes=1), m, m + dt.timedelta(minutes=30)}
    return sorted(out | {T(2024, 1, 5), T(2024, 1, 20)})


def _same(a, b) -> bool:
    na, nb = a is None or (isinstance(a, float) and math.isnan(a)), b is None or (isinstance(b, float) and math.isnan(b))
    if na or nb:
        return na == nb
    return math.isclose(a, b, rel_tol=1e-9) if isinstance(a, float) else a == b


def _at(rows, t, fid, subject=None):
    r = rows[(rows["as_of"] == t) & (rows["id"] == fid) & ((rows["subject"] == subject) if subject else True)]
    assert len(r) == 1, (t, fid, subject, r)
    return r.iloc[0]


def test_the_history_equals_the_snapshot_around_every_publication(tmp_path):
    areas = ("etf", "treasuries")
    with _store(tmp_path / "s.duckdb") as s:
        ts = _instants()
        got = history.compute(s, ts, areas=areas, fallback=False).rows
        problems = []
        for t in ts:
            snap = [row_of(f, t) for f in metrics.compute(s, t, areas=("price", *areas)) if not f.id.startswith("price.")]
            key = lambda r: (r["id"], r["subject"], r["window"], r["kind"])  # noqa: E731
            want, have = {key(r): r for r in snap}, {key(r): r for r in got[got["as_of"] == t].to_dict("records")}
            if want.keys() != have.keys():
                problems.append(f"{t}: {sorted(want.keys() ^ have.keys())}")
                continue
            for k, w in want.items():
                for col in ("value", "value_text", "unit", "zscore", "percentile"):
                    if not _same(w[col], have[k][col]):
                        problems.append(f"{t} {k} {col}: {w[col]!r} vs {have[k][col]!r}")
                if (w["note"] or "").startswith("not available") != (have[k]["note"] or "").startswith("not available"):
                    problems.append(f"{t} {k} note: {w['note']!r} vs {have[k]['note']!r}")
        assert not problems, "\n".join(problems[:20])

        # By hand. Before the first vintage nothing has traded.
        assert _at(got, T(2024, 1, 9, 7, 59), "etf.net_flow_usd")["note"].startswith("not available")
        # The preliminary vintage: A's 100 only, B missing (not available, not guessed).
        pre = T(2024, 1, 9, 8, 30)
        assert _at(got, pre, "etf.net_flow_usd")["value"] == 100.0
        assert _at(got, pre, "etf.flow_usd", "B")["note"].startswith("not available")
        # The final vintage replaces it: 120 + 180.
        assert _at(got, T(2024, 1, 9, 18), "etf.net_flow_usd")["value"] == 300.0
        # Day 3 at 18:00: only A's row is published (B's an hour later); the holiday is not a trading day.
        assert _at(got, T(2024, 1, 11, 18), "etf.net_flow_usd")["value"] == -50.0
        late = T(2024, 1, 11, 19)
        assert _at(got, late, "etf.net_flow_usd")["value"] == -150.0
        assert _at(got, late, "etf.outflow_streak_days")["value"] == 1.0
        assert _at(got, late, "etf.cumulative_usd")["value"] == 300.0 - 150.0
        assert _at(got, late, "etf.week_to_date_usd")["window"] == "wtd:2024-01-08..2024-01-10"
        # Cost basis: each day's flow at that day's close (day index 7 and 9 of the bars).
        btc = 300.0 / (40_000 + 700) - 150.0 / (40_000 + 900)
        assert math.isclose(_at(got, late, "etf.holders_cost_basis_usd")["value"], round(150.0 / btc, 2), rel_tol=1e-12)
        # Treasuries: Alpha's second filing counts from its publication; the newer daily row is not mixed in.
        assert _at(got, T(2024, 1, 10, 23, 59), "treasury.holdings_btc", "Alpha")["value"] == 10.0
        assert _at(got, T(2024, 1, 11, 18, 30), "treasury.holdings_btc", "Alpha")["value"] == 12.0
        assert _at(got, T(2024, 1, 11, 18, 30), "treasury.avg_cost_usd", "Alpha")["value"] == 500_000.0 / 12
        assert _at(got, T(2024, 1, 11, 18, 30), "treasury.cost_usd", "Beta")["note"].startswith("not available")
        before = got[(got["as_of"] == T(2024, 1, 9, 17, 59)) & (got["subject"] == "Beta")]
        assert before.empty  # Beta's first daily row is published at 18:00


def test_the_incremental_refresh_recomputes_from_a_revised_vintage(tmp_path):
    with _store(tmp_path / "s.duckdb") as s:
        materialize.refresh(s, areas=("etf", "treasuries"))
        # A revised vintage of day 3 published on 2024-01-15: only instants from then on change.
        s.upsert("etf_flow_days", _days([(D(2024, 1, 10), T(2024, 1, 15, 18), -90.0, 2, "", False)]),
                 ingested_at=T(2026, 1, 2))
        s.upsert("etf_flows", _flows([(D(2024, 1, 10), "A", T(2024, 1, 15, 18), -40.0, T(2024, 1, 15, 18)),
                                      (D(2024, 1, 10), "B", T(2024, 1, 15, 18), -50.0, T(2024, 1, 15, 18))]),
                 ingested_at=T(2026, 1, 2))
        done = materialize.refresh(s, areas=("etf", "treasuries"))
        assert done["etf"]["from"] == T(2024, 1, 15, 18)
        stored = materialize.read(s, ["etf.net_flow_usd"], T(2024, 1, 1), T(2024, 2, 20))
        at = stored.set_index("as_of")["value"]
        # day instants (DAY_END after midnight): the 15th's is before the revision, the 16th's after it
        assert at[T(2024, 1, 15) + DAY_END] == -150.0 and at[T(2024, 1, 16) + DAY_END] == -90.0
        fresh = history.compute(s, list(stored["as_of"].dt.to_pydatetime()), areas=("etf",)).rows
        fresh = fresh[fresh["id"] == "etf.net_flow_usd"].reset_index(drop=True)
        assert [_same(a, b) for a, b in zip(stored["value"], fresh["value"])] == [True] * len(fresh)
