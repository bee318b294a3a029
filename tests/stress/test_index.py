"""The stress index: hand-derived scores on tiny hand-made rows, and the point-in-time rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from btcstress import metrics
from btcstress.metrics import stress
from btcstress.store import Store
from tests.conftest import CRASH, utc

DAY0 = dt.date(2025, 1, 1)
SMALL = {"history_days": 10, "min_history": 3, "min_components": 1}


def _closes(s: Store, closes: list[float], first: dt.date = DAY0) -> None:
    days = [dt.datetime.combine(first + dt.timedelta(days=i), dt.time()) for i in range(len(closes))]
    s.upsert("candles", pa.table({
        "venue": ["cryptoquant"] * len(days), "symbol": ["BTC-USD"] * len(days), "interval": ["1d"] * len(days),
        "open_time": days, "open": closes, "high": closes, "low": closes, "close": closes,
        "origin": ["test/closes.csv"] * len(days)}))


def _caps(s: Store, caps: list[float], first: dt.date = DAY0) -> None:
    s.upsert("market_cap_daily", pa.table({
        "date": [first + dt.timedelta(days=i) for i in range(len(caps))], "scope": ["total"] * len(caps),
        "cap_usd": caps, "origin": ["test/caps.csv"] * len(caps)}))


def _robust(history: list[float], value: float, sign: int) -> float:
    """The score by hand: sign × (value - median) / (IQR / 1.349), quartiles interpolated linearly."""
    q25, med, q75 = np.percentile(history, [25, 50, 75])
    return sign * (value - med) / ((q75 - q25) / 1.349)


def test_price_component_is_the_robust_score_of_the_days_return(tmp_path):
    closes = [100.0, 101.0, 99.0, 102.0, 100.0, 90.0]
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, closes)
        at = utc(2025, 1, 7)  # end of 2025-01-06, the 90.0 close
        out = stress.findings_series(s, [at], SMALL)[at.replace(tzinfo=None)]
    rets = [(b / a - 1) * 100 for a, b in zip(closes, closes[1:])]
    expected = _robust(rets[:-1], rets[-1], sign=-1)  # a fall is pressure: sign -1
    comp = next(f for f in out if f.id == "stress.component.price")
    assert comp.value == pytest.approx(expected, abs=1e-4) and comp.window == "1d:2025-01-06"
    measure = comp.detail["measures"][0]
    assert measure["history_days"] == 4 and measure["value"] == pytest.approx(rets[-1])
    index = out[0]
    assert index.id == "stress.index" and index.value == pytest.approx(expected, abs=1e-4)
    assert index.detail["n_components"] == 1 and "Market-wide selling" in index.note


def test_index_is_the_weighted_mean_of_the_components_present(tmp_path):
    closes = [100.0, 101.0, 99.0, 102.0, 100.0, 90.0]
    caps = [1000.0, 1010.0, 1000.0, 990.0, 1005.0, 950.0]
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, closes)
        _caps(s, caps)
        at = utc(2025, 1, 7)
        weights = {"price": 1.0, "market": 3.0, "miners": 1.0, "etf": 1.0, "leverage": 1.0, "treasuries": 1.0}
        out = stress.findings_series(s, [at], {**SMALL, "min_components": 2, "weights": weights})[
            at.replace(tzinfo=None)]
    rets = [(b / a - 1) * 100 for a, b in zip(closes, closes[1:])]
    chg = [(b / a - 1) * 100 for a, b in zip(caps, caps[1:])]
    zp, zm = _robust(rets[:-1], rets[-1], -1), _robust(chg[:-1], chg[-1], -1)
    index = out[0]
    assert index.value == pytest.approx((1 * zp + 3 * zm) / 4, abs=1e-4)
    assert index.detail["n_components"] == 2
    assert index.detail["contributions"]["market"] == pytest.approx(3 * zm / 4, abs=1e-4)
    assert set(index.detail["missing"]) == {"miners", "etf", "leverage", "treasuries"}


def test_too_few_components_or_too_little_history_is_not_available(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, [100.0, 101.0, 99.0, 102.0, 100.0, 90.0])
        at = utc(2025, 1, 7)
        two = stress.findings_series(s, [at], {**SMALL, "min_components": 2})[at.replace(tzinfo=None)]
        short = stress.findings_series(s, [at], {**SMALL, "min_history": 5})[at.replace(tzinfo=None)]
    assert two[0].value is None and "1 of 6 forces" in two[0].note
    comp = next(f for f in short if f.id == "stress.component.price")
    assert comp.value is None and "fewer than 5 days" in comp.note


def test_a_day_is_not_used_before_it_is_published(tmp_path):
    """At 2025-01-06 23:00 the 01-06 close is not out yet (published at its end): the 01-05 move counts."""
    closes = [100.0, 101.0, 99.0, 102.0, 100.0, 90.0]
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, closes)
        at = utc(2025, 1, 6, 23)
        comp = next(f for f in stress.findings_series(s, [at], SMALL)[at.replace(tzinfo=None)]
                    if f.id == "stress.component.price")
    rets = [(b / a - 1) * 100 for a, b in zip(closes, closes[1:])]
    assert comp.window == "1d:2025-01-05"
    assert comp.value == pytest.approx(_robust(rets[:-2], rets[-2], -1), abs=1e-4)


def test_etf_flows_use_the_vintage_valid_at_t_for_the_day_and_its_history(tmp_path):
    days = [dt.date(2025, 1, 6) + dt.timedelta(days=i) for i in range(5)]  # Mon..Fri
    flows = [100e6, -50e6, 20e6, 80e6]
    vint = lambda d, h=0: dt.datetime.combine(d + dt.timedelta(days=1), dt.time(h))  # noqa: E731
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, [100.0] * 3 + [101.0, 99.0, 102.0, 100.0, 98.0], first=dt.date(2025, 1, 3))
        rows = {"date": days[:4], "fund": ["IBIT"] * 4, "vintage": [vint(d) for d in days[:4]],
                "net_flow_usd": flows, "origin": ["test/farside.csv"] * 4}
        rows["available_at"] = rows["vintage"]
        # Friday: a preliminary -300M at 00:00 and a final -250M at 12:00; Tuesday revised to +10M at 06:00.
        extra = {"date": [days[4], days[4], days[1]], "fund": ["IBIT"] * 3,
                 "vintage": [vint(days[4]), vint(days[4], 12), vint(days[4], 6)],
                 "net_flow_usd": [-300e6, -250e6, 10e6], "origin": ["test/farside.csv"] * 3}
        extra["available_at"] = extra["vintage"]
        s.upsert("etf_flows", pa.table({k: rows[k] + extra[k] for k in rows}))
        p = {**SMALL, "min_history": 3}
        t1, t2, t3 = dt.datetime(2025, 1, 11, 3), dt.datetime(2025, 1, 11, 7), dt.datetime(2025, 1, 11, 13)
        got = stress.findings_series(s, [t1, t2, t3], p)
    etf = {t: next(f for f in got[t] if f.id == "stress.component.etf") for t in (t1, t2, t3)}
    assert etf[t1].value == pytest.approx(_robust(flows, -300e6, -1), abs=1e-4)
    revised = [flows[0], 10e6, flows[2], flows[3]]
    assert etf[t2].value == pytest.approx(_robust(revised, -300e6, -1), abs=1e-4)
    assert etf[t3].value == pytest.approx(_robust(revised, -250e6, -1), abs=1e-4)


def test_a_batch_of_instants_gives_what_each_instant_gives_alone(store):
    instants = [utc(2019, 6, 27), utc(2020, 3, 13), utc(2024, 8, 5, 12), CRASH]
    batch = stress.findings_series(store, instants)
    for t in instants:
        alone = metrics.compute(store, t, areas=("stress",))
        key = t.replace(tzinfo=None)
        assert [f.model_dump() for f in batch[key]] == [f.model_dump() for f in alone]


STRESS_TABLES = ("candles", "market_cap_daily", "miner_flows_daily", "network_daily", "etf_flows",
                 "liquidations_daily", "derivatives_daily", "treasury_valuation_daily", "quality")


@pytest.mark.parametrize("at", [utc(2024, 8, 6), CRASH])
def test_the_index_at_t_never_changes_when_later_data_is_ingested(store, tmp_path, at):
    """A store holding only what was published by T (a truncated ingest) gives the same stress findings
    and the same daily history up to T as the full store."""
    with Store(tmp_path / "truncated.duckdb") as cut:
        for name in STRESS_TABLES:
            cut.upsert(name, store.table(name, at).drop("ingested_at").to_pyarrow())
        assert cut.table("candles").count().execute() < store.table("candles").count().execute()
        early = stress.findings_series(cut, [at])
        late = stress.findings_series(store, [at])
        h_cut = stress.daily_with(cut, at, stress.DEFAULTS)[0]
        h_full = stress.daily_with(store, at, stress.DEFAULTS)[0]
    key = at.replace(tzinfo=None)
    assert [f.model_dump(exclude={"sources"}) for f in early[key]] == \
        [f.model_dump(exclude={"sources"}) for f in late[key]]
    assert early[key][0].value is not None and early[key][0].detail["n_components"] >= 5
    assert h_cut.equals(h_full)


def test_the_history_rows_are_the_snapshot_findings(store):
    """The vectorised rows the history engine stores say what `findings` says at each instant."""
    instants = [utc(2018, 1, 2), utc(2019, 3, 30), utc(2020, 3, 13), utc(2024, 5, 22), utc(2024, 8, 5, 12), CRASH]
    rows = stress.history_rows(store, instants)
    for t in instants:
        alone = metrics.compute(store, t, areas=("stress",))
        mine = rows[rows.as_of == t.replace(tzinfo=None)]
        assert list(mine.id) == [f.id for f in alone]
        for f, (_, r) in zip(alone, mine.iterrows()):
            assert (r.window, r.note, r.unit, r.subject) == (f.window, f.note, f.unit, f.subject), f.id
            assert (f.value is None and np.isnan(r.value)) or r.value == f.value, f.id


def test_the_exact_path_gives_the_fast_path_s_rows(store, monkeypatch):
    """A short calendar (a snapshot) takes the exact per-instant history join for every instant
    (index.EXACT_BELOW); a long one mostly the window over every day. Both give the same rows, at
    instants just before and after an ETF preliminary vintage and a revision, on quiet and crash days."""
    import pandas as pd

    from btcstress.stress import index
    instants = [utc(2018, 1, 2), utc(2020, 3, 13), utc(2024, 1, 12, 1), utc(2024, 1, 12, 23), utc(2024, 8, 5, 12),
                utc(2025, 3, 14, 13, 17), utc(2026, 2, 5, 16, 47), CRASH, utc(2026, 2, 6, 23, 59)]
    frames = []
    for below in (0, 10**6):  # every instant on the fast path's query; every instant on the exact join
        monkeypatch.setattr(index, "EXACT_BELOW", below)
        frames.append(index.measures_frame(store, instants, stress.DEFAULTS))
    fast, exact = frames
    assert len(fast) > 8 * len(instants) // 2 and set(fast.t) == {t.replace(tzinfo=None) for t in instants}
    pd.testing.assert_frame_equal(exact, fast, check_exact=False, rtol=1e-12, atol=0.0)
