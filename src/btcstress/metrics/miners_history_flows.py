"""The miners history's observed findings (revenue, hashprice, reserve, outflows; see
metrics/miners_history.py): each instant's last network or miner-flow day, with the trailing-year
statistics of the days some instant picks from one range join per series; plus the rounding and the
statistics floor the area's rows share."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from btcstress.metrics.miners_flows import FLOW_METRICS
from btcstress.metrics.stats import MIN_HISTORY


def enforced(df: pd.DataFrame) -> pd.DataFrame:
    """metrics.stats.enforce: no statistic on a base shorter than MIN_HISTORY, said in the note."""
    short = df["zscore"].notna() & (df["n"] < MIN_HISTORY)
    why = "no z-score or percentile: " + df["n"].astype("Int64").astype(str) + \
        f" observations of history (the minimum is {MIN_HISTORY})"
    df.loc[short, "note"] = [f"{a}; {b}" if isinstance(a, str) and a else b
                             for a, b in zip(df.loc[short, "note"], why[short])]
    df.loc[short, ["zscore", "percentile"]] = np.nan
    return df.drop(columns="n")


def round_py(x, digits: int) -> np.ndarray:
    """Python's round (correctly rounded, as the snapshot's), elementwise; NaN stays NaN."""
    return np.array([round(float(v), digits) if pd.notna(v) else np.nan for v in x], dtype=float)


# -- revenue and flows (observed) ----------------------------------------------------------------

def _trailing(values: ibis.Table, cur: pd.DataFrame, days: int) -> pd.DataFrame:
    """Per row of `cur` (day, cur): over the rows of `values` (date, x) dated [day - days, day), their
    count n, mean and sample std of x and the share of non-null x at or below cur: what the snapshot
    aggregates for one day, for every day at once (a range join)."""
    if cur.empty:  # no data days: the join's columns and dtypes, no rows (callers merge and drop "cur")
        return cur[["day", "cur"]].assign(day=pd.to_datetime(cur["day"]), n=0, mean=np.nan, std=np.nan,
                                          below=np.nan)
    c = ibis.memtable(cur[["day", "cur"]].assign(day=pd.to_datetime(cur["day"]).dt.date),
                      schema=ibis.schema({"day": "date", "cur": "float64"}))
    j = c.join(values, [values.date < c.day, values.date >= c.day - ibis.interval(days=days)])
    g = j.group_by(["day", "cur"]).aggregate(n=j.count(), mean=j.x.mean(), std=j.x.std(),
                                              below=(j.x <= j.cur).cast("float64").mean()).execute()
    g["day"] = pd.to_datetime(g["day"])
    return cur[["day", "cur"]].assign(day=pd.to_datetime(cur["day"])).merge(g, on=["day", "cur"], how="left")


def _wide(t: ibis.Table, metrics: tuple[str, ...]) -> ibis.Table:
    return t.group_by("date").aggregate(**{m: t.value.max(where=t.metric == m) for m in metrics})


def revenue_rows(hctx, inst: pd.DataFrame) -> pd.DataFrame:
    """miners.revenue_usd_1d and miners.hashprice_usd_per_ph_day on each instant's last network day."""
    p = inst["p"].iloc[-1]
    zd = int(p["zscore_window_days"])
    net = hctx.table("network_daily")
    w = _wide(net, ("block_rewards_btc", "block_rewards_usd", "hashrate_hs"))
    w = w.mutate(hp=w.block_rewards_usd / (w.hashrate_hs / 1e15))
    days = w.execute()
    days["date"] = pd.to_datetime(days["date"])
    d = inst[["as_of", "L"]].merge(days, left_on="L", right_on="date", how="left")
    have = d["L"].notna()
    full = have & d["hashrate_hs"].notna() & d["block_rewards_btc"].notna()
    usd = full & d["block_rewards_usd"].notna()
    st = _trailing(w.select("date", x=w.hp), d.loc[usd, ["L", "hp"]].drop_duplicates("L").rename(
        columns={"L": "day", "hp": "cur"}), zd)
    d = d.merge(st.rename(columns={"day": "L"}).drop(columns="cur"), on="L", how="left")
    ok = usd & (d["n"] > 30) & d["std"].notna() & (d["std"] != 0)
    z = ((d["hp"] - d["mean"]) / d["std"]).where(ok)
    window = np.where(usd, "1d:" + d["L"].dt.strftime("%Y-%m-%d"), "")
    day = d["L"].dt.strftime("%Y-%m-%d")
    why = np.where(~have, "not available: no network data known at this instant",
                   np.where(~full, "not available: hashrate or block rewards missing for " + day,
                            "not available: no USD block rewards for " + day))
    note = np.where(usd, None, why)
    out = []
    for fid, unit, v, digits, zz in (("miners.revenue_usd_1d", "USD", d["block_rewards_usd"], 0, None),
                                     ("miners.hashprice_usd_per_ph_day", "USD/PH/day", d["hp"], 2, z)):
        out.append(pd.DataFrame({
            "as_of": d["as_of"], "id": fid, "value": [round(float(x), digits) if u else np.nan
                                                      for x, u in zip(v, usd)],
            "unit": np.where(usd, unit, ""), "window": window, "kind": "computed", "note": note,
            "zscore": [round(float(x), 2) if pd.notna(x) else np.nan for x in zz] if zz is not None else np.nan,
            "percentile": [round(100 * float(b), 1) if o else np.nan for b, o in zip(d["below"], ok)]
            if zz is not None else np.nan,
            "n": d["n"].where(ok) if zz is not None else np.nan, "_o": 0}))
    return enforced(pd.concat(out, ignore_index=True))


def flow_rows(hctx, inst: pd.DataFrame) -> pd.DataFrame:
    """Miner reserve, its 30-day change, outflow and to-exchange on each instant's last flow day."""
    zd = int(inst["p"].iloc[-1]["zscore_window_days"])
    t = hctx.table("miner_flows_daily")
    wide = _wide(t, FLOW_METRICS).execute()
    wide["date"] = pd.to_datetime(wide["date"])
    wide = wide.set_index("date")
    d = inst[["as_of", "F"]].copy()
    has = d["F"].notna()
    F = d["F"]
    d30 = F - pd.Timedelta(days=30)
    r = wide["reserve_btc"].reindex(F).to_numpy()
    r0 = wide["reserve_btc"].reindex(d30).to_numpy()
    day, day30 = F.dt.strftime("%Y-%m-%d"), d30.dt.strftime("%Y-%m-%d")
    na = "not available: no miner-flow data known at this instant"
    out = [_one(d, "miners.reserve_btc", round_py(r, 0), np.where(has, "1d:" + day, ""),
                np.where(~has, na, "not available: no miner reserve for " + day), pd.notna(r))]
    chg = r - r0
    ok = pd.notna(r) & pd.notna(r0)
    res = t.filter(t.metric == "reserve_btc")
    a, b = res.select(date=res.date, v=res.value), res.select(d0=res.date, v0=res.value)
    j = a.join(b, a.date == b.d0 + ibis.interval(days=30))
    st = _stats(d.assign(day=F, cur=chg)[ok], j.select("date", x=j.v - j.v0), zd, 30, strict=True)
    out.append(_one(d, "miners.reserve_change_30d_btc", round_py(chg, 0),
                    np.where(ok, "30d:" + day30 + ".." + day, ""),
                    np.where(~has, na, "not available: miner reserve missing on " + day30 + " or " + day), ok, st))
    for fid, metric in (("miners.outflow_btc_1d", "outflow_btc"), ("miners.to_exchange_btc_1d", "to_exchange_btc")):
        v = wide[metric].reindex(F).to_numpy()
        ok = pd.notna(v)
        m = t.filter(t.metric == metric)
        st = _stats(d.assign(day=F, cur=v)[ok], m.select("date", x=m.value), zd, zd // 2, strict=False)
        out.append(_one(d, fid, round_py(v, 1), np.where(has, "1d:" + day, ""),
                        np.where(~has, na, f"not available: no {metric} for " + day), ok, st))
    return enforced(pd.concat(out, ignore_index=True))


def _stats(cur: pd.DataFrame, values: ibis.Table, zd: int, floor: int, strict: bool) -> pd.DataFrame:
    """(as_of, zscore, percentile, n) where the snapshot gives a statistic: more than `floor`
    observations (`strict`) or at least `floor` (the flows' trailing_stats), and a non-zero std."""
    u = cur[["day", "cur"]].drop_duplicates()
    s = cur[["as_of", "day", "cur"]].merge(_trailing(values, u, zd), on=["day", "cur"], how="left")
    ok = ((s["n"] > floor) if strict else (s["n"] >= floor)) & s["std"].notna() & (s["std"] != 0)
    return pd.DataFrame({"as_of": s["as_of"],
                         "zscore": [round(float((c - m) / sd), 2) if o else np.nan
                                    for o, c, m, sd in zip(ok, s["cur"], s["mean"], s["std"])],
                         "percentile": [round(100 * float(b), 1) if o else np.nan for o, b in zip(ok, s["below"])],
                         "n": s["n"].where(ok)})


def _one(d: pd.DataFrame, fid: str, value, window, why, ok, stats: pd.DataFrame | None = None) -> pd.DataFrame:
    df = pd.DataFrame({"as_of": d["as_of"].to_numpy(), "id": fid, "value": np.where(ok, value, np.nan),
                       "unit": np.where(ok, "BTC", ""), "window": np.where(ok, window, ""), "kind": "computed",
                       "note": np.where(ok, None, why), "_o": 0})
    if stats is None or stats.empty:
        return df.assign(zscore=np.nan, percentile=np.nan, n=np.nan)
    return df.merge(stats, on="as_of", how="left")
