"""The miners history equals the miners snapshot where the shared snapshot never tests it: rows of an
earlier day published late (a restated hashrate, a restated miner reserve). Before the late rows are
published the snapshot cannot see them, after it does; the history must agree at both, so it cannot
cut one run over all the data at every instant (the late rows would leak into the past)."""

from __future__ import annotations

import datetime as dt
import shutil

import pyarrow as pa

from btcstress import history, metrics
from btcstress.history import row_of
from btcstress.history.calendar import DAY_END
from btcstress.store import Store
from tests.history.test_parity import _same

HASH_DAY, RESERVE_DAY = dt.date(2025, 1, 10), dt.date(2025, 1, 12)
HASH_AT, RESERVE_AT = dt.datetime(2025, 1, 20, 12), dt.datetime(2025, 1, 18, 6)
# AFTER: the first day instant (D+1 07:00, calendar.DAY_END) after both late rows are out, at which the
# newest daily rows (20 January's) are published too.
AFTER = dt.datetime(2025, 1, 21) + DAY_END
INSTANTS = [dt.datetime(2025, 1, 15), dt.datetime(2025, 1, 18, 5), dt.datetime(2025, 1, 20, 11, 59),
            dt.datetime(2025, 1, 21), AFTER]


def _late_store(src, path) -> Store:
    """The snapshot with a second origin's larger hashrate for HASH_DAY and reserve for RESERVE_DAY,
    each published days late (the pivot takes the larger of two origins' values)."""
    shutil.copy(src, path)
    s = Store(path)
    n = s.table("network_daily")
    h = n.filter((n.date == HASH_DAY) & (n.metric == "hashrate_hs")).value.max().execute()
    s.upsert("network_daily", pa.table({"date": [HASH_DAY], "metric": ["hashrate_hs"], "value": [float(h) * 1.5],
                                        "origin": ["test/restated"], "available_at": [HASH_AT]}))
    f = s.table("miner_flows_daily")
    r = f.filter((f.date == RESERVE_DAY) & (f.metric == "reserve_btc")).value.max().execute()
    s.upsert("miner_flows_daily", pa.table({"date": [RESERVE_DAY], "metric": ["reserve_btc"],
                                            "value": [float(r) + 50_000.0], "origin": ["test/restated"],
                                            "available_at": [RESERVE_AT]}))
    return s


def _snap(store, t):
    return {(r["id"], r["subject"], r["window"]): r for r in
            (row_of(f, t) for f in metrics.compute(store, t, areas=("price", "miners")) if f.id.startswith("miners."))}


def test_late_rows_are_seen_only_from_their_publication(snapshot_db, tmp_path):
    with _late_store(snapshot_db, tmp_path / "late.duckdb") as s, Store(snapshot_db, read_only=True) as orig:
        got = history.compute(s, INSTANTS, areas=("miners",), fallback=False).rows
        problems = []
        for t in INSTANTS:
            want = _snap(s, t)
            have = {(r["id"], r["subject"], r["window"]): r for r in got[got["as_of"] == t].to_dict("records")}
            assert want.keys() == have.keys(), t
            for k, w in want.items():
                for col in ("value", "value_text", "unit", "zscore", "percentile"):
                    if not _same(w[col], have[k][col]):
                        problems.append(f"{t} {k} {col}: snapshot {w[col]!r} history {have[k][col]!r}")
        assert not problems, "\n".join(problems[:20])
        # The late rows matter: unseen before their publication (the snapshot equals the original
        # store's), seen after (the hashprice's and the reserve change's trailing years include them).
        # (At 21 January 00:00 the newest day is the 19th, and the hashprice's z-score, to two decimals,
        # happens to come out the same with and without the late row; at AFTER it does not.)
        before, after = dt.datetime(2025, 1, 15), AFTER
        a, b = _snap(s, before), _snap(orig, before)
        assert all(_same(a[k]["value"], b[k]["value"]) and _same(a[k]["zscore"], b[k]["zscore"]) for k in a)
        a, b = _snap(s, after), _snap(orig, after)
        for fid in ("miners.hashprice_usd_per_ph_day", "miners.reserve_change_30d_btc"):
            k = next(k for k in a if k[0] == fid)
            assert a[k]["zscore"] != b[k]["zscore"], fid
