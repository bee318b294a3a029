"""The leverage history equals the leverage snapshot at every instant of a tiny hand-written store
that has what the shared snapshot lacks: a row of an earlier day published late (the history must not
assume data arrives in date order), a single-venue open-interest series replaced by CryptoQuant's
once that is published, event-level liquidations (24 h and last-day windows) and a cited figure."""

from __future__ import annotations

import datetime as dt
import statistics

import pyarrow as pa

from btcstress import history, metrics
from btcstress.history import row_of
from btcstress.store import Store
from tests.history.test_parity import _same

D0 = dt.date(2024, 1, 1)
DAYS = [D0 + dt.timedelta(days=i) for i in range(10)]
PARAMS = {"leverage": {"min_history_days": 2}}  # a z-score from 2 days of history (the store is tiny)
LATE_AT = dt.datetime(2024, 1, 8, 12)  # when a second origin's row for ETH on 2024-01-03 is published


def _ts(d: dt.date, h: int = 0) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, h)


def _store(path) -> Store:
    s = Store(path)
    n = len(DAYS)
    closes = [40_000.0 + 100 * i for i in range(n)]
    s.upsert("candles", pa.table({
        "venue": ["cryptoquant"] * n, "symbol": ["BTC-USD"] * n, "interval": ["1d"] * n,
        "open_time": [_ts(d) for d in DAYS], "open": closes, "high": closes, "low": closes, "close": closes,
        "volume": [1.0] * n, "origin": ["test"] * n}))
    for asset, base in (("BTC", 100.0), ("ETH", 40.0)):
        for side, k in (("long", 3.0), ("short", 1.0)):
            vals = [base * k * (1 + (i * 7 % 5)) for i in range(n)]
            s.upsert("liquidations_daily", pa.table({
                "date": DAYS, "asset": [asset] * n, f"{side}_usd": vals, "origin": [f"test/{asset}_{side}"] * n}))
    # A second origin's ETH long row for day 3, published five days late (larger, so max() takes it).
    s.upsert("liquidations_daily", pa.table({"date": [DAYS[2]], "asset": ["ETH"], "long_usd": [5_000.0],
                                             "origin": ["test/late"], "available_at": [LATE_AT]}))
    # Open interest: one venue from day 0, CryptoQuant from day 4 (published day 5 00:00) on.
    s.upsert("derivatives_daily", pa.table({"date": DAYS, "asset": ["BTC"] * n,
                                            "open_interest_usd": [1e9 + 1e7 * i for i in range(n)],
                                            "origin": ["binance-test"] * n}))
    cq = DAYS[4:]
    s.upsert("derivatives_daily", pa.table({"date": cq, "asset": ["BTC"] * len(cq),
                                            "open_interest_usd": [2e9 - 3e7 * i for i in range(len(cq))],
                                            "funding_rate_pct": [0.01 * (i - 2) for i in range(len(cq))],
                                            "origin": ["test/cryptoquant_btc_oi"] * len(cq)}))
    ev = [("binance", "BTCUSDT", _ts(DAYS[5], 3), "1", "BTC", "long", 1_000.0),
          ("binance", "BTCUSDT", _ts(DAYS[5], 20), "2", "BTC", "short", 3_000.0),
          ("bybit", "ETHUSDT", _ts(DAYS[6], 1), "3", "ETH", "long", 2_000.0),
          ("okx", "BTC-USDT-SWAP", _ts(DAYS[6], 1), "4", "BTC", "long", 2_000.0)]
    s.upsert("liquidations", pa.table({
        "venue": [e[0] for e in ev], "symbol": [e[1] for e in ev], "ts": [e[2] for e in ev],
        "id": [e[3] for e in ev], "asset": [e[4] for e in ev], "side": [e[5] for e in ev], "price": [1.0] * 4,
        "qty": [e[6] for e in ev], "usd": [e[6] for e in ev], "origin": ["test/ws"] * 4,
        "available_at": [e[2] + dt.timedelta(seconds=1) for e in ev]}))
    s.upsert("citations", pa.table({
        "finding_id": ["liquidations.total_usd"], "subject": ["all coins"], "as_of": [_ts(DAYS[6], 12)],
        "source": ["an aggregator"], "value": [1.5e9], "unit": ["USD"], "window": ["24h"], "url": [None],
        "note": [None], "origin": ["test/cited"], "available_at": [_ts(DAYS[6], 13)]}))
    return s


def _instants() -> list[dt.datetime]:
    """Each day's end, and the instants where something changes (few: each is a snapshot to compare)."""
    ends = [_ts(d) + dt.timedelta(days=1) for d in DAYS]
    return sorted(set(ends) | {LATE_AT, LATE_AT - dt.timedelta(minutes=1), _ts(DAYS[5]) - dt.timedelta(hours=1),
                               _ts(DAYS[5], 1), _ts(DAYS[6], 7), _ts(DAYS[6], 13), _ts(DAYS[2], 6)})


def test_leverage_history_equals_the_snapshot_at_every_instant(tmp_path):
    with _store(tmp_path / "s.duckdb") as s:
        ts = _instants()
        got = history.compute(s, ts, areas=("leverage",), params=PARAMS, fallback=False)
        assert got.paths["leverage"] == "series"
        rows = got.rows
        problems = []
        for t in ts:
            snap = {(r["id"], r["subject"], r["window"], r["kind"]): r
                    for r in (row_of(f, t) for f in metrics.compute(s, t, areas=("leverage",), params=PARAMS))}
            hist = {(r["id"], r["subject"], r["window"], r["kind"]): r
                    for r in rows[rows["as_of"] == t].to_dict("records")}
            if snap.keys() != hist.keys():
                problems.append(f"{t}: {sorted(snap.keys() ^ hist.keys())}")
                continue
            for k, w in snap.items():
                for col in ("value", "value_text", "unit", "zscore", "percentile"):
                    if not _same(w[col], hist[k][col]):
                        problems.append(f"{t} {k} {col}: snapshot {w[col]!r} history {hist[k][col]!r}")
                if (w["note"] or "").startswith("not available") != (hist[k]["note"] or "").startswith("not available"):
                    problems.append(f"{t} {k}: notes {w['note']!r} / {hist[k]['note']!r}")
        assert not problems, "\n".join(problems[:20])

        def at(t, fid, subject, window=None):
            r = rows[(rows["as_of"] == t) & (rows["id"] == fid) & (rows["subject"] == subject)]
            return r[r["window"] == window] if window else r

        # The late row: unknown at 2024-01-08 11:59 (the z of day 01-07 uses ETH long 3 x 40 x 3 on 01-03),
        # known from 12:00 on (5,000). Derived here from the rows written above.
        def z_eth_total(day_i: int, late: bool) -> float:
            tot = [40.0 * 3 * (1 + (i * 7 % 5)) + 40.0 * (1 + (i * 7 % 5)) for i in range(len(DAYS))]
            if late:
                tot[2] = 5_000.0 + 40.0 * (1 + (2 * 7 % 5))
            hist = tot[:day_i]
            return round((tot[day_i] - statistics.mean(hist)) / statistics.stdev(hist), 2)
        before, after = LATE_AT - dt.timedelta(minutes=1), LATE_AT
        assert at(before, "liquidations.zscore_1y", "ETH")["value"].iloc[0] == z_eth_total(6, late=False)
        assert at(after, "liquidations.zscore_1y", "ETH")["value"].iloc[0] == z_eth_total(6, late=True)
        # Open interest: the single venue's series until CryptoQuant's first day is published, then CryptoQuant's.
        oi = at(_ts(DAYS[5]) - dt.timedelta(hours=1), "derivatives.open_interest_usd", "BTC")
        assert oi["value"].iloc[0] == 1e9 + 1e7 * 3
        assert at(_ts(DAYS[5]), "derivatives.open_interest_usd", "BTC")["value"].iloc[0] == 2e9
        # Events: the 24 h to 2024-01-07 01:00 hold events 2, 3 and 4 (BTC+ETH: 7,000 USD).
        t = _ts(DAYS[6], 7)
        assert at(t, "liquidations.total_usd", "BTC+ETH", "24h")["value"].iloc[0] == 3_000.0 + 2_000.0 + 2_000.0
        assert at(t, "liquidations.largest_usd", "BTC+ETH", "24h")["value"].iloc[0] == 3_000.0
        assert at(_ts(DAYS[6], 13), "liquidations.total_usd", "all coins")["kind"].iloc[0] == "cited"
