"""How unusual each force's number was on the crash, recomputed by hand from the raw CSV rows.

For every area with a z-score or percentile (`Finding.unusual`), one test reads the snapshot's raw file
with pandas, applies the documented rules by hand (which day is the latest known at the instant, the
trailing window, sample standard deviation, "percentile" = share of the base at or below the value)
and compares with what the metric code computed through the store and Ibis. Nothing here is pasted
from a run: a change in the metric's window, its base or its day shows up as a difference.
"""

from __future__ import annotations

import pandas as pd
import pytest

from btcstress import areas, metrics
from tests.conftest import CRASH, utc

DAY = pd.Timestamp("2026-02-05")  # CryptoQuant's daily row of D is published at D+1 00:00Z: the latest at CRASH
YEAR = pd.Timedelta(days=365)


@pytest.fixture(scope="module")
def crash(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield metrics.compute(s, CRASH, areas=areas.closure(["market", "miners", "etf", "leverage", "treasuries"]))


def _csv(snapshot_dir, rel: str) -> pd.DataFrame:
    return pd.read_csv(snapshot_dir / rel, parse_dates=["date"]).sort_values("date").reset_index(drop=True)


def _z(x: float, base: pd.Series) -> float:
    return round((x - base.mean()) / base.std(ddof=1), 2)  # sample std, as the SQL std() is


def _pct(x: float, base: pd.Series, digits: int = 1) -> float:
    return round(100.0 * (base <= x).sum() / len(base), digits)


def _before(df: pd.DataFrame, day: pd.Timestamp, days: int = 365) -> pd.DataFrame:
    """The rows of the `days` calendar days before `day` (day itself excluded)."""
    return df[(df.date < day) & (df.date >= day - pd.Timedelta(days=days))]


def test_price_the_day_return_against_the_trailing_year_and_all_history(crash, snapshot_dir):
    p = _csv(snapshot_dir, "price/cryptoquant_btc_usd_ohlcv_daily.csv")
    # Ingest quarantines a bar whose open or close lies outside [low, high] and stores no bar without a close.
    bad = (p.Close > p.High) | (p.Close < p.Low) | (p.Open > p.High) | (p.Open < p.Low)
    p = p[~bad & p.Close.notna()].copy()
    p["ret"] = p.Close / p.Close.shift(1) - 1
    x = float(p.loc[p.date == DAY, "ret"].iloc[0])
    history = p[(p.date < DAY) & p.ret.notna()]
    year = history[history.date >= DAY - YEAR]

    f = crash.get("price.change_1d_pct")
    assert f.window == f"1d:{DAY.date()}" and f.value == pytest.approx(100 * x, rel=1e-12)
    assert f.unusual["n"] == len(year) == 365
    assert f.unusual["zscore"] == _z(x, year.ret)
    assert f.unusual["percentile_n"] == len(history)
    assert f.unusual["percentile"] == _pct(x, history.ret, 2)


def test_market_the_day_change_of_the_total_cap_against_the_trailing_year(crash, snapshot_dir):
    m = _csv(snapshot_dir, "marketcap/derived_total_crypto_market_cap_daily.csv")
    m["change"] = m.total_mcap_usd_close.diff()  # the day's close - the previous row's
    x = float(m.loc[m.date == DAY, "change"].iloc[0])
    base = _before(m[m.change.notna()], DAY).change

    f = crash.get("market.total_cap_change_usd", "crypto")
    assert f.value == pytest.approx(x) and f.unusual["n"] == len(base)
    assert f.unusual["zscore"] == _z(x, base)


def test_miners_the_day_outflow_against_the_trailing_year(crash, snapshot_dir):
    o = _csv(snapshot_dir, "network/cryptoquant_btc_miner_outflow_total_daily.csv")
    o.columns = ["date", "outflow"]
    x = float(o.loc[o.date == DAY, "outflow"].iloc[0])
    base = _before(o, DAY).outflow

    f = crash.get("miners.outflow_btc_1d")
    assert f.value == pytest.approx(x, abs=0.05) and f.unusual["n"] == len(base) == 365
    assert f.unusual["zscore"] == _z(x, base)
    assert f.unusual["percentile"] == _pct(x, base)


def _liquidations(snapshot_dir, asset: str) -> pd.DataFrame:
    rel = "liquidations/cryptoquant_{}_{}_liquidations_usd_daily.csv"
    long = _csv(snapshot_dir, rel.format(asset, "long")).set_axis(["date", "long"], axis=1)
    short = _csv(snapshot_dir, rel.format(asset, "short")).set_axis(["date", "short"], axis=1)
    j = long.merge(short, on="date")
    return j.assign(total=j.long + j.short)[["date", "total"]]


@pytest.mark.parametrize("subject", ["BTC", "ETH", "BTC+ETH"])
def test_leverage_the_day_liquidations_against_the_trailing_year(crash, snapshot_dir, subject):
    if subject != "BTC+ETH":
        frame = _liquidations(snapshot_dir, subject.lower())
    else:  # summed over the days on which both assets are published
        both = _liquidations(snapshot_dir, "btc").merge(_liquidations(snapshot_dir, "eth"), on="date",
                                                       suffixes=("_btc", "_eth"))
        frame = both.assign(total=both.total_btc + both.total_eth)[["date", "total"]]
    x = float(frame.loc[frame.date == DAY, "total"].iloc[0])
    base = _before(frame, DAY).total

    f = crash.get("liquidations.total_usd", subject)
    assert f.value == pytest.approx(x, rel=1e-12) and f.unusual["days"] == len(base) == 365
    assert f.unusual["zscore"] == _z(x, base)
    assert f.unusual["percentile"] == _pct(x, base)
    z = crash.get("liquidations.zscore_1y", subject)  # the headline z-score finding is the same statistic
    assert z.value == _z(x, base) and z.detail["percentile"] == _pct(x, base)


def _etf_days(snapshot_dir) -> pd.DataFrame:
    """One row per trading day: the sum of the funds that reported (Farside, USD millions -> USD)."""
    fa = _csv(snapshot_dir, "etf/farside_btc_etf_flows_daily.csv")
    funds = [c for c in fa.columns if c not in ("date", "Total")]
    fa["net"] = fa[funds].sum(axis=1, min_count=1) * 1e6
    return fa[fa.net.notna()]


def test_etf_the_preliminary_day_at_the_crash_against_the_trailing_year(crash, snapshot_dir):
    fa = _etf_days(snapshot_dir)
    f = crash.get("etf.net_flow_usd")
    missing = f.detail["missing_funds"]
    assert missing == ["IBIT"]  # IBIT publishes D at D+1 18:00Z (etf_funds.csv): not yet at 08:00Z
    row = fa[fa.date == DAY].iloc[0]
    x = float(row.net - sum(row[m] for m in missing) * 1e6)
    base = _before(fa, DAY).net

    assert f.value == pytest.approx(x, abs=1) and f.unusual["n"] == len(base)
    assert f.unusual["zscore"] == _z(x, base)
    assert f.unusual["percentile"] == _pct(x, base)


def test_etf_the_final_day_against_the_trailing_year(store, snapshot_dir):
    fa = _etf_days(snapshot_dir)
    x = float(fa.loc[fa.date == DAY, "net"].iloc[0])
    base = _before(fa, DAY).net

    f = metrics.compute(store, utc(2026, 2, 6, 18, 0), areas=("etf",)).get("etf.net_flow_usd")
    assert f.detail["preliminary"] is False and f.value == pytest.approx(x, abs=1)
    assert f.unusual["zscore"] == _z(x, base)
    assert f.unusual["percentile"] == _pct(x, base)


def test_treasuries_the_latest_mnav_against_its_trailing_year(crash, snapshot_dir):
    t = _csv(snapshot_dir, "treasury/artemis_btc_treasury_fd_ev_nav_daily.csv")
    col = "Strategy - Fully Diluted EV / Nav"
    s = t[["date", col]].dropna()
    cur = pd.Timestamp("2026-02-04")  # Artemis publishes D at D+1 18:00Z: at CRASH the latest is 02-04
    x = float(s.loc[s.date == cur, col].iloc[0])
    base = s[(s.date > cur - YEAR) & (s.date <= cur)][col]  # the trailing year including the day itself

    f = crash.get("treasury.mnav", "Strategy")
    assert f.window == f"1d:{cur.date()}" and f.value == pytest.approx(x, rel=1e-12)
    assert f.unusual["n"] == len(base)
    assert f.unusual["zscore"] == _z(x, base)
    assert f.unusual["percentile"] == _pct(x, base)
