"""Quality rules for the series other than the composite price (docs/DATA.md, "Data quality").

Two kinds, as for the price:
- neighbour rules: a value its own neighbours do not support. For level series (hashrate, difficulty,
  reserves, open interest, AUM, holdings, market caps, indices) a jump far beyond the series' usual
  day-to-day change that the next value undoes: a one-day spike no neighbour supports. A real crash
  moves a level and the level stays moved, so crash days are not caught. Flow series (liquidations)
  are spiky by nature; a liquidation spike needs a move, so the rule there is a spike on a quiet day.
- cross-source rules: two files that must agree (USD ÷ BTC of the same quantity is a price inside
  the day's range; hashrate is blocks × difficulty; the ETF week's daily flows sum to Artemis' week;
  an 8-K's holdings are Artemis' holdings a few days on).

Every flag's `available_at` is the latest `available_at` of the rows it used (the spike rules need
the next value, so a spike is known one publication later than the value itself).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from btcstress.quality.rules import Flag, _py
from btcstress.store import Store

# -- thresholds (chosen on the real snapshot; docs/DATA.md gives what each flags there) ------------
SPIKE_K = 10.0  # a change > 10 x the median absolute change of the 90 values before ...
SPIKE_REF = 90
SPIKE_MIN_REF = 30
SPIKE_REVERT = 0.10  # ... that the next value undoes by >= 90% (|x[t+1] vs x[t-1]| < 10% of the jump)
SPIKE_PRICE_SHARE = 0.5  # a USD value of BTC whose jump the BTC close shares (same sign, >= half) is supported
# Series valued in USD that move with the BTC price: the composite close is their neighbour too.
PRICE_DRIVEN = ("market_cap_daily", "etf_aum", "miner_flows_daily:reserve_usd", "derivatives_daily:open_interest_usd")
# (table, metric or measure, how to measure a change, the smallest change that can be a spike)
LEVEL_SERIES = (
    ("network_daily", "hashrate_hs", "log", 0.25),
    ("network_daily", "difficulty", "log", 0.02),
    ("network_daily", "supply_btc", "log", 0.001),
    ("miner_flows_daily", "reserve_btc", "log", 0.02),
    ("derivatives_daily", "open_interest_usd", "log", 0.15),
    ("derivatives_daily", "leverage_ratio", "log", 0.15),
    ("derivatives_daily", "funding_rate_pct", "abs", 0.05),
    ("market_cap_daily", "btc", "log", 0.10),
    ("market_cap_daily", "btc_implied", "log", 0.10),
    ("market_cap_daily", "total", "log", 0.10),
    ("market_cap_daily", "total3", "log", 0.10),
    ("miner_flows_daily", "reserve_usd", "log", 0.10),
    ("indicators_daily", "fear_greed", "abs", 25.0),
    ("indicators_daily", "btc_dominance_pct", "abs", 3.0),
    ("etf_aum", "*", "log", 0.15),
    ("stock_daily", "MSTR", "log", 0.25),
    ("treasury_holdings", "*", "log", 0.02),
)
USD_BTC_TOL = 0.02  # USD ÷ BTC may lie 2% (log) outside the composite's daily low..high
USD_BTC_MIN = 1000.0  # only daily USD totals of at least $1,000
HASH_TOL = 0.02  # hashrate vs blocks x difficulty x 2^32 / 86400, difficulty of the day or the day before
LIQ_K = 20.0  # a liquidation total > 20 x its median of the 90 days before ...
LIQ_QUIET = 1.0  # ... on a day whose BTC range is under the median range of the 90 days before
ETF_WEEK_USD = 50e6  # Farside's week vs Artemis' week: more than $50M apart ...
ETF_WEEK_REL = 0.10  # ... and more than 10% of the larger
HOLDINGS_TOL = 0.01  # an 8-K's holdings vs Artemis' rows on its as-of day and the 3 days after
HOLDINGS_DAYS = 3

_VALUE_COLUMN = {"network_daily": ("metric", "value"), "miner_flows_daily": ("metric", "value"),
                 "market_cap_daily": ("scope", "cap_usd"), "indicators_daily": ("name", "value")}


def series_name(table: str, key: str, subject: str | None = None) -> str:
    return f"{table}:{key}" if subject is None else f"{table}:{subject}/{key}"


# -- loading -------------------------------------------------------------------------------------

def _level(store: Store, table: str, key: str) -> list[tuple[str, str, pd.DataFrame]]:
    """(series, field, rows [ts, v, available_at, origin]) per origin (and subject) of a level series."""
    q = store.duck.execute
    if table in _VALUE_COLUMN:
        kcol, vcol = _VALUE_COLUMN[table]
        df = q(f"SELECT CAST(date AS TIMESTAMP) ts, {vcol} v, available_at, origin FROM {table} "
               f"WHERE {kcol} = ? AND {vcol} IS NOT NULL ORDER BY origin, date", [key]).df()
        return [(series_name(table, key), vcol, g.reset_index(drop=True)) for _, g in df.groupby("origin")]
    if table == "derivatives_daily":
        df = q(f"SELECT asset, CAST(date AS TIMESTAMP) ts, {key} v, available_at, origin FROM derivatives_daily "
               f"WHERE {key} IS NOT NULL ORDER BY asset, origin, date").df()
        return [(series_name(table, key, a), key, g.reset_index(drop=True)) for (a, _), g in df.groupby(["asset", "origin"])]
    if table == "etf_aum":
        df = q("SELECT fund, CAST(date AS TIMESTAMP) ts, aum_usd v, available_at, origin FROM etf_aum "
               "WHERE aum_usd > 0 ORDER BY fund, origin, date").df()
        return [(series_name(table, "aum_usd", f), "aum_usd", g.reset_index(drop=True)) for (f, _), g in df.groupby(["fund", "origin"])]
    if table == "treasury_holdings":  # daily series only: filings and snapshots are too sparse for neighbours
        df = q("SELECT entity, CAST(as_of AS TIMESTAMP) ts, btc v, available_at, origin FROM treasury_holdings "
               "WHERE basis = 'daily' AND btc > 0 ORDER BY entity, origin, as_of").df()
        return [(series_name(table, "btc", e), "btc", g.reset_index(drop=True)) for (e, _), g in df.groupby(["entity", "origin"])]
    if table == "stock_daily":
        df = q("SELECT CAST(date AS TIMESTAMP) ts, close v, available_at, origin FROM stock_daily "
               "WHERE ticker = ? AND close > 0 ORDER BY origin, date", [key]).df()
        return [(series_name(table, "close", key), "close", g.reset_index(drop=True)) for _, g in df.groupby("origin")]
    raise ValueError(f"no level loader for {table}")


def _composite(store: Store) -> pd.DataFrame:
    return store.duck.execute(
        "SELECT open_time ts, high, low, close, available_at FROM candles WHERE venue = 'cryptoquant' "
        "AND symbol = 'BTC-USD' AND interval = '1d' ORDER BY open_time").df()


def _metric(store: Store, table: str, metric: str) -> pd.DataFrame:
    return store.duck.execute(
        f"SELECT CAST(date AS TIMESTAMP) ts, value v, available_at, origin FROM {table} WHERE metric = ? "
        "ORDER BY date", [metric]).df()


# -- neighbour rules -----------------------------------------------------------------------------

def spike_unsupported(d: pd.DataFrame, series: str, field: str, how: str, min_change: float,
                      price: pd.Series | None = None) -> list[Flag]:
    """A value whose change from the value before is > SPIKE_K x the median absolute change of the
    SPIKE_REF values before (and at least `min_change`), and that the next value undoes (the next
    value is back within SPIKE_REVERT of the jump from where the series was): a one-day spike. For a
    USD value that moves with BTC (`price`: the composite's log close change by day), a jump the BTC
    close shares (same sign, at least SPIKE_PRICE_SHARE of it) is supported and not flagged."""
    if len(d) < SPIKE_MIN_REF + 2:
        return []
    x = d.v.astype(float)
    if how == "log":
        x = np.log(x.where(x > 0))
    r = x.diff()
    usual = r.abs().shift().rolling(SPIKE_REF, min_periods=SPIKE_MIN_REF).median()
    back = (x.shift(-1) - x.shift()).abs()
    limit = np.fmax(SPIKE_K * usual, min_change)
    hit = (r.abs() > limit) & (back < SPIKE_REVERT * r.abs()) & usual.notna()
    if price is not None:
        p = d.ts.map(price).astype(float)
        hit &= ~((np.sign(p) == np.sign(r)) & (p.abs() >= SPIKE_PRICE_SHARE * r.abs()))
    out = []
    for i in np.flatnonzero(hit.to_numpy()):
        prev, cur, nxt = d.iloc[i - 1], d.iloc[i], d.iloc[i + 1]
        unit = "log change" if how == "log" else "change"
        out.append(Flag(series, _py(cur.ts), field, "spike_unsupported", float(cur.v),
                        f"{prev.ts:%Y-%m-%d} {prev.v:,.6g}; {nxt.ts:%Y-%m-%d} {nxt.v:,.6g}; median |{unit}| of the "
                        f"{SPIKE_REF} values before {usual.iloc[i]:.4g}",
                        f"the value jumps {r.iloc[i]:+.3g} ({unit}) from the value before, "
                        f"{abs(r.iloc[i]) / max(usual.iloc[i], 1e-12):.0f} x the usual change (limit {SPIKE_K:g} x and "
                        f"{min_change:g}), and the next value undoes it: no neighbour supports it",
                        max(_py(cur.available_at), _py(nxt.available_at)), str(cur.origin)))
    return out


def liquidation_spike_on_quiet_day(store: Store) -> list[Flag]:
    """A day's BTC liquidations (per side) > LIQ_K x their median of the 90 days before, on a day
    whose BTC composite range (log high/low) is under its own median of the 90 days before: a
    liquidation cascade needs a move, so a huge total on a quiet day is not supported by the price.
    BTC only: ETH's own moves (not stored) are what would support ETH liquidations."""
    px = _composite(store)
    if px.empty:
        return []
    px["rng"] = np.log(px.high / px.low)
    px["ref"] = px.rng.shift().rolling(90, min_periods=30).median()
    out = []
    for side in ("long_usd", "short_usd"):
        df = store.duck.execute(
            f"SELECT asset, CAST(date AS TIMESTAMP) ts, {side} v, available_at, origin FROM liquidations_daily "
            f"WHERE {side} IS NOT NULL AND asset = 'BTC' ORDER BY asset, origin, date").df()
        for (asset, origin), g in df.groupby(["asset", "origin"]):
            g = g.reset_index(drop=True)
            g["med"] = g.v.shift().rolling(90, min_periods=30).median()
            m = g.merge(px[["ts", "rng", "ref", "available_at"]], on="ts", how="inner", suffixes=("", "_px"))
            hit = (m.v > LIQ_K * m.med) & (m.med > 0) & (m.rng < LIQ_QUIET * m.ref)
            for r in m[hit].itertuples():
                out.append(Flag(series_name("liquidations_daily", side, asset), _py(r.ts), side,
                                "liquidation_spike_on_quiet_day", float(r.v),
                                f"median of the 90 days before {r.med:,.0f}; BTC range {r.rng:.2%} vs its median {r.ref:.2%}",
                                f"{asset} {side.split('_')[0]} liquidations are {r.v / r.med:.0f} x their usual day "
                                f"(limit {LIQ_K:g} x) on a day BTC moved less than usual: no move supports them",
                                max(_py(r.available_at), _py(r.available_at_px)), str(origin)))
    return out


# -- cross-source rules --------------------------------------------------------------------------

def usd_btc_outside_range(store: Store) -> list[Flag]:
    """USD ÷ BTC of the same daily quantity (block rewards, fees) is the price the vendor valued it at:
    it must lie inside the composite's low..high of the day (within USD_BTC_TOL, log)."""
    px = _composite(store)
    out = []
    for usd, btc in (("block_rewards_usd", "block_rewards_btc"), ("fees_usd", "fees_btc")):
        u, b = _metric(store, "network_daily", usd), _metric(store, "network_daily", btc)
        m = u.merge(b, on="ts", suffixes=("", "_b")).merge(px, on="ts", suffixes=("", "_px"))
        m = m[(m.v_b > 0) & (m.v >= USD_BTC_MIN)]  # sub-dollar values are rounded: no price in them
        implied = m.v / m.v_b
        excess = np.fmax(np.log(implied / m.high), np.log(m.low / implied))
        for i in np.flatnonzero((excess > USD_BTC_TOL).to_numpy()):
            r = m.iloc[i]
            out.append(Flag(series_name("network_daily", usd), _py(r.ts), "value", "usd_btc_outside_range",
                            float(r.v), f"{btc} {r.v_b:,.4f} → {implied.iloc[i]:,.2f} USD/BTC; composite low..high "
                            f"{r.low:,.2f}..{r.high:,.2f}",
                            f"{usd} ÷ {btc} values BTC at {implied.iloc[i]:,.2f}, {excess.iloc[i]:.1%} outside the day's "
                            f"price range (limit {USD_BTC_TOL:.0%})",
                            max(_py(r.available_at), _py(r.available_at_b), _py(r.available_at_px)), str(r.origin)))
    return out


def hashrate_vs_difficulty(store: Store) -> list[Flag]:
    """The vendor's hashrate is blocks x difficulty x 2^32 / 86,400 s: flag a day whose hashrate lies
    more than HASH_TOL (log) outside that estimate at the difficulty of the day and of the day before
    (a retarget day mixes both)."""
    h, bl, df = (_metric(store, "network_daily", m) for m in ("hashrate_hs", "blocks", "difficulty"))
    df = df.assign(prev=df.v.shift(), nxt=df.v.shift(-1))
    m = h.merge(bl, on="ts", suffixes=("", "_bl")).merge(df, on="ts", suffixes=("", "_d"))
    m = m[(m.v > 0) & (m.v_bl > 0) & (m.v_d > 0) & m.prev.notna() & m.nxt.notna()]
    k = 2.0 ** 32 / 86_400
    dmin, dmax = np.fmin(np.fmin(m.v_d, m.prev), m.nxt), np.fmax(np.fmax(m.v_d, m.prev), m.nxt)
    lo, hi = m.v_bl * dmin * k, m.v_bl * dmax * k
    excess = np.fmax(np.log(m.v / hi), np.log(lo / m.v))
    out = []
    for i in np.flatnonzero((excess > HASH_TOL).to_numpy()):
        r = m.iloc[i]
        out.append(Flag(series_name("network_daily", "hashrate_hs"), _py(r.ts), "value", "hashrate_vs_difficulty",
                        float(r.v), f"{r.v_bl:.0f} blocks x difficulty {r.v_d:.4g} (day before {r.prev:.4g}) x 2^32 / "
                        f"86,400 s = {lo.iloc[i]:.4g}..{hi.iloc[i]:.4g} H/s",
                        f"the hashrate is {excess.iloc[i]:.1%} outside what the day's blocks and difficulty give "
                        f"(limit {HASH_TOL:.0%})", max(_py(r.available_at), _py(r.available_at_bl), _py(r.available_at_d)),
                        str(r.origin)))
    return out


def etf_week_vs_artemis(store: Store) -> list[Flag]:
    """The latest-vintage Farside flows of a week (Monday..Friday, all funds) against Artemis' weekly
    BTC ETF flow for the week ending that Sunday: flag every Farside day of a week more than
    ETF_WEEK_USD and ETF_WEEK_REL apart (which source is wrong is not known: the daily one is flagged,
    the weekly figure is the comparison)."""
    f = store.duck.execute(
        "WITH last AS (SELECT date, fund, arg_max(net_flow_usd, vintage) v, max(vintage) vin, any_value(origin) o "
        "FROM etf_flows GROUP BY ALL) SELECT CAST(date AS TIMESTAMP) ts, sum(v) v, max(vin) avail, any_value(o) origin "
        "FROM last GROUP BY date ORDER BY date").df()
    a = store.duck.execute("SELECT CAST(date AS TIMESTAMP) wk, net_flow_usd a, available_at, origin FROM etf_flows_weekly "
                           "WHERE asset = 'btc' ORDER BY date").df()
    if f.empty or a.empty:
        return []
    f["wk"] = f.ts + pd.to_timedelta(6 - f.ts.dt.day_of_week, unit="D")
    w = f.groupby("wk").agg(s=("v", "sum"), avail=("avail", "max")).reset_index().merge(a, on="wk")
    gap = (w.s - w.a).abs()
    hit = (gap > ETF_WEEK_USD) & (gap > ETF_WEEK_REL * np.fmax(w.s.abs(), w.a.abs()))
    out = []
    for r in w[hit].itertuples():
        for d in f[f.wk == r.wk].itertuples():
            out.append(Flag(series_name("etf_flows", "net_flow_usd", "all"), _py(d.ts), "net_flow_usd",
                            "etf_week_vs_artemis", float(d.v),
                            f"Farside week to {r.wk:%Y-%m-%d} {r.s / 1e6:+,.1f}M USD vs Artemis {r.a / 1e6:+,.1f}M USD ({r.origin})",
                            f"the week's daily flows sum to {r.s / 1e6:+,.1f}M, {abs(r.s - r.a) / 1e6:,.1f}M away from "
                            f"Artemis' weekly figure (limit {ETF_WEEK_USD / 1e6:.0f}M and {ETF_WEEK_REL:.0%})",
                            max(_py(r.avail), _py(r.available_at)), str(d.origin)))
    return out


def holdings_vs_filing(store: Store) -> list[Flag]:
    """An 8-K's holdings (basis 'filing') against the daily series (Artemis) of the same company on
    the 8-K's as-of day and the HOLDINGS_DAYS after (Artemis steps on the filing day): when none of
    those daily rows is within HOLDINGS_TOL, the daily row nearest the as-of day is flagged (the 8-K,
    a legal filing, is the clean source the treasury findings prefer)."""
    out = []
    for entity, g in _holdings(store).groupby("entity"):
        daily = g[g.basis == "daily"].set_index("ts")
        for k in g[g.basis == "filing"].itertuples():
            near = daily.loc[(daily.index >= k.ts) & (daily.index <= k.ts + pd.Timedelta(days=HOLDINGS_DAYS))]
            if near.empty or ((near.btc - k.btc).abs() <= HOLDINGS_TOL * k.btc).any():
                continue
            r = near.iloc[0]
            out.append(Flag(series_name("treasury_holdings", "btc", entity), _py(near.index[0]), "btc",
                            "holdings_vs_filing", float(r.btc),
                            f"8-K as of {k.ts:%Y-%m-%d}: {k.btc:,.0f} BTC ({k.origin})",
                            f"no daily row within {HOLDINGS_DAYS} days of the 8-K's as-of day is within "
                            f"{HOLDINGS_TOL:.0%} of its {k.btc:,.0f} BTC (nearest {r.btc:,.0f})",
                            max(_py(r.available_at), _py(k.available_at)), str(r.origin)))
    return out


def holdings_snapshot_vs_daily(store: Store) -> list[Flag]:
    """An aggregator's snapshot (basis 'snapshot', DefiLlama) against the daily series (Artemis) of
    the same company within HOLDINGS_DAYS either side of the snapshot's as-of day: when no daily row
    is within HOLDINGS_TOL, both the snapshot row and the daily row nearest it are flagged (neither is
    a filing: which one is stale is not known)."""
    out = []
    for entity, g in _holdings(store).groupby("entity"):
        daily = g[g.basis == "daily"].set_index("ts")
        for k in g[g.basis == "snapshot"].itertuples():
            near = daily.loc[(daily.index >= k.ts - pd.Timedelta(days=HOLDINGS_DAYS))
                             & (daily.index <= k.ts + pd.Timedelta(days=HOLDINGS_DAYS))]
            if near.empty or ((near.btc - k.btc).abs() <= HOLDINGS_TOL * k.btc).any():
                continue
            i = int(np.argmin(np.abs((near.index - k.ts).days)))
            r, rts = near.iloc[i], near.index[i]
            avail = max(_py(r.available_at), _py(k.available_at))
            gap = f"{k.btc - r.btc:+,.0f} BTC ({k.btc / r.btc - 1:+.1%})"
            series = series_name("treasury_holdings", "btc", entity)  # the daily series; the snapshot's own:
            out.append(Flag(series_name("treasury_holdings", "btc_snapshot", entity), _py(k.ts), "btc", "holdings_snapshot_vs_daily", float(k.btc),
                            f"daily series {rts:%Y-%m-%d}: {r.btc:,.0f} BTC ({r.origin})",
                            f"the snapshot's {k.btc:,.0f} BTC is {gap} from the daily series within {HOLDINGS_DAYS} "
                            f"days (limit {HOLDINGS_TOL:.0%}); neither is a filing", avail, str(k.origin)))
            out.append(Flag(series, _py(rts), "btc", "holdings_snapshot_vs_daily", float(r.btc),
                            f"snapshot {k.ts:%Y-%m-%d}: {k.btc:,.0f} BTC ({k.origin})",
                            f"the daily series' {r.btc:,.0f} BTC is {-(k.btc - r.btc):+,.0f} BTC from the snapshot "
                            f"(limit {HOLDINGS_TOL:.0%}); neither is a filing", avail, str(r.origin)))
    return out


def _holdings(store: Store) -> pd.DataFrame:
    return store.duck.execute(
        "SELECT entity, CAST(as_of AS TIMESTAMP) ts, btc, basis, available_at, origin FROM treasury_holdings "
        "WHERE btc IS NOT NULL ORDER BY entity, as_of").df()


RULES = {
    "spike_unsupported": spike_unsupported.__doc__,
    "liquidation_spike_on_quiet_day": liquidation_spike_on_quiet_day.__doc__,
    "usd_btc_outside_range": usd_btc_outside_range.__doc__,
    "hashrate_vs_difficulty": hashrate_vs_difficulty.__doc__,
    "etf_week_vs_artemis": etf_week_vs_artemis.__doc__,
    "holdings_vs_filing": holdings_vs_filing.__doc__,
    "holdings_snapshot_vs_daily": holdings_snapshot_vs_daily.__doc__,
}


def compute(store: Store) -> list[Flag]:
    """Every rule above over the store's current rows."""
    flags: list[Flag] = []
    px = _composite(store)
    price = pd.Series(np.log(px.close / px.close.shift()).to_numpy(), index=px.ts)
    for table, key, how, floor in LEVEL_SERIES:
        driven = table in PRICE_DRIVEN or f"{table}:{key}" in PRICE_DRIVEN
        for series, field, d in _level(store, table, key):
            flags += spike_unsupported(d, series, field, how, floor, price if driven else None)
    flags += liquidation_spike_on_quiet_day(store) + usd_btc_outside_range(store) + hashrate_vs_difficulty(store)
    flags += etf_week_vs_artemis(store) + holdings_vs_filing(store) + holdings_snapshot_vs_daily(store)
    return flags
