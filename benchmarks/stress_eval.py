"""Is the stress index any good? Walk-forward evaluation on the store (results in docs/METRICS.md#stress).

Every score here is out of sample by construction: the index at the end of day D uses only rows
published by then (each measure standardised against its own trailing year as known at that instant)
and its weights are fixed, not fitted, so there is nothing to refit as the walk moves forward.

Crash days are defined from raw price moves only: a UTC day whose composite (CryptoQuant BTC-USD 1d)
close-to-close return is <= CRASH_PCT. Questions:

1. Same day: does the index at the end of D rank crash days D above the others? (Partly circular: the
   price component IS the day's return, and market-wide selling nearly so; the same is asked of the
   index without those two, "other forces", which is not circular.)
2. Ahead: does the index at the end of D rank days followed by a crash (on D+1, or within D+1..D+7)
   above the others? This is an early-warning question; nothing in it is circular.
   Metrics: precision at the top 1% of days (share of crash days among the highest-ranked 1%) against
   the base rate, and ROC AUC (0.5 = no information).
3. Episodes: for each stressed day-end T (index >= STRESSED), the median forward return (7 and 30 days)
   of its 5 episodes (outcomes known by T only) against the realised forward return after T, compared
   with the median of 5 random past days (drawn from the same candidates, 200 draws): rank correlation,
   mean absolute error, and sign agreement.

    .venv/bin/python benchmarks/stress_eval.py --db data/btcstress.duckdb [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from btcstress.store import Store  # noqa: E402
from btcstress.stress import episodes as ep  # noqa: E402
from btcstress.stress import index  # noqa: E402

CRASH_PCT = -7.0
STRESSED = 2.0
FIRST, LAST = dt.date(2018, 1, 1), dt.date(2026, 2, 5)
EVAL_FROM = dt.date(2019, 1, 1)  # episodes: leave a year of candidates before the first question
K, DRAWS, SEED = 5, 200, 20260206


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    r = pd.Series(score).rank(method="average").to_numpy()
    pos, n_pos, n_neg = label.astype(bool), label.sum(), (~label.astype(bool)).sum()
    return float((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (Pearson on average ranks); no scipy needed."""
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def precision_at(score: np.ndarray, label: np.ndarray, share: float = 0.01) -> tuple[float, int]:
    n = max(1, int(round(len(score) * share)))
    top = np.argsort(-score, kind="stable")[:n]
    return float(label[top].mean()), n


def ranking(frame: pd.DataFrame, col: str, label: str) -> dict:
    d = frame.dropna(subset=[col, label])
    s, y = d[col].to_numpy(float), d[label].to_numpy(int)
    p, n = precision_at(s, y)
    return {"score": col, "label": label, "days": len(d), "crash_days": int(y.sum()), "base_rate": float(y.mean()),
            "top_n": n, "precision_top1pct": p, "auc": auc(s, y)}


def daily_returns(store: Store) -> pd.Series:
    c = store.table("candles")
    c = c.filter((c.venue == "cryptoquant") & (c.symbol == "BTC-USD") & (c.interval == "1d"))
    df = c.select(date=c.open_time.date(), close=c.close).order_by("date").execute()
    s = df.set_index(pd.to_datetime(df.date)).close
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="data/btcstress.duckdb")
    ap.add_argument("--json")
    args = ap.parse_args()
    store = Store(args.db, read_only=True)
    t0 = time.perf_counter()
    comb, measures = index.history(store, FIRST, LAST)
    secs = time.perf_counter() - t0
    closes = daily_returns(store)
    ret = (closes / closes.shift(1) - 1) * 100
    frame = comb.copy()
    frame["day"] = frame.t - pd.Timedelta(days=1)  # the index at the end of day D
    frame["ret"] = frame.day.map(ret)
    frame["crash"] = (frame.ret <= CRASH_PCT).astype(int)
    nxt = frame.set_index("day").crash
    frame["crash_next"] = frame.day.map(lambda d: nxt.get(d + pd.Timedelta(days=1), np.nan))
    frame["crash_next7"] = frame.day.map(lambda d: float(np.nanmax([nxt.get(d + pd.Timedelta(days=i), np.nan)
                                                                  for i in range(1, 8)] + [0])))
    others = index.combine(measures, {"weights": {"price": 0, "market": 0, "miners": 1, "etf": 1, "leverage": 1,
                                                  "treasuries": 1}, "min_components": 1})
    frame = frame.merge(others[["t", "index"]].rename(columns={"index": "other_forces"}), on="t", how="left")
    frame = frame.dropna(subset=["index"])
    rankings = [ranking(frame, c, lab) for lab in ("crash", "crash_next", "crash_next7")
                for c in ("index", "other_forces", "price", "market", "miners", "etf", "leverage", "treasuries")]
    out = {"history_seconds": round(secs, 2), "crash_pct": CRASH_PCT, "days": len(frame),
           "first": str(frame.day.min().date()), "last": str(frame.day.max().date()),
           "crash_days": [str(d.date()) for d in frame.day[frame.crash == 1]], "rankings": rankings,
           "episodes_stressed_days": episodes_eval(frame, closes, stressed=True),
           "episodes_every_7th_day": episodes_eval(frame, closes, stressed=False)}
    print(json.dumps(out, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


def episodes_eval(frame: pd.DataFrame, closes: pd.Series, *, stressed: bool) -> dict:
    """Episode medians vs realised forward returns on stressed day-ends (or every 7th day-end), against
    random past days."""
    rng = np.random.default_rng(SEED)
    cdf = pd.DataFrame({"close": closes})
    res = {h: {"ep": [], "rand": [], "real": []} for h in (7, 30)}
    asked = frame[frame.day >= pd.Timestamp(EVAL_FROM)]
    asked = asked[asked["index"] >= STRESSED] if stressed else asked.iloc[::7]
    skipped = 0
    for _, now in asked.iterrows():
        t = now.t
        known = cdf[cdf.index + pd.Timedelta(days=1) <= t]  # closes published by T
        cand = frame[frame.t <= t - pd.Timedelta(days=ep.DEFAULTS["recent_days"])]
        picked = ep.nearest(now, cand, k=K, gap_days=ep.DEFAULTS["gap_days"], min_shared=ep.DEFAULTS["min_shared"])
        for h in (7, 30):
            realised_end = now.day + pd.Timedelta(days=h)
            if realised_end not in closes.index or now.day not in closes.index:
                skipped += 1
                continue
            real = (closes[realised_end] / closes[now.day] - 1) * 100
            fwd = [ep.forward(known, d)[f"{h}d"]["value"] for d in picked.day]
            fwd = [v for v in fwd if v is not None]
            if not fwd:
                continue
            pool = cand.day[cand.day + pd.Timedelta(days=h + 1) <= t].to_numpy()
            pool_ret = ((closes.reindex(pool + np.timedelta64(h, "D")).to_numpy()
                         / closes.reindex(pool).to_numpy()) - 1) * 100
            pool_ret = pool_ret[~np.isnan(pool_ret)]
            draws = np.median(rng.choice(pool_ret, size=(DRAWS, K)), axis=1)
            res[h]["ep"].append(float(np.median(fwd)))
            res[h]["rand"].append(draws)
            res[h]["real"].append(float(real))
    out = {"questions": len(asked), "which": f"index >= {STRESSED}" if stressed else "every 7th day-end"}
    for h, r in res.items():
        e, real, rand = np.array(r["ep"]), np.array(r["real"]), np.array(r["rand"])
        if not len(e):
            continue
        rho = spearman(e, real)
        rand_rho = [spearman(rand[:, j], real) for j in range(DRAWS)]
        mae_ep = float(np.mean(np.abs(e - real)))
        mae_rand = [float(np.mean(np.abs(rand[:, j] - real))) for j in range(DRAWS)]
        sign_ep = float(np.mean(np.sign(e) == np.sign(real)))
        sign_rand = [float(np.mean(np.sign(rand[:, j]) == np.sign(real))) for j in range(DRAWS)]
        out[f"{h}d"] = {
            "n": len(e), "realised_median": float(np.median(real)), "episodes_median_of_medians": float(np.median(e)),
            "spearman_episodes": float(rho), "spearman_random_p5_p50_p95": np.percentile(rand_rho, [5, 50, 95]).tolist(),
            "mae_episodes": mae_ep, "mae_random_p5_p50_p95": np.percentile(mae_rand, [5, 50, 95]).tolist(),
            "sign_agreement_episodes": sign_ep, "sign_random_p5_p50_p95": np.percentile(sign_rand, [5, 50, 95]).tolist(),
            "share_random_draws_with_lower_mae": float(np.mean(np.array(mae_rand) <= mae_ep))}
    return out


if __name__ == "__main__":
    main()
