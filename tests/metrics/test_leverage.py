"""Leverage findings on the real snapshot (read in place), event-level findings on the recorded venue
payloads, and cited figures."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from tests.conftest import CRASH, FIXTURES, missing, utc
from typer.testing import CliRunner

from btcstress import ingest, metrics
from btcstress.findings import FindingSet
from btcstress.metrics import leverage
from btcstress.metrics.context import Context
from btcstress.parsers import binance_force_order, bybit_liquidation, okx_liquidation
from btcstress.store import Store


def _fs(store, as_of) -> FindingSet:
    ctx = Context(store=store, as_of=as_of)
    return FindingSet(ctx.as_of, leverage.findings(ctx), {s.name: s for s in leverage.series(ctx)})


@pytest.fixture(scope="module")
def crash(snapshot_db):
    with Store(snapshot_db, read_only=True) as s:
        yield _fs(s, CRASH)


# -- daily liquidations (CryptoQuant) ------------------------------------------------------------

def test_crash_day_btc_and_eth_liquidations_total_1_36b_with_77pct_longs(crash):
    total = crash.get("liquidations.total_usd", "BTC+ETH")
    assert total.window == "1d:2026-02-05" and total.kind == "computed"
    assert total.value == pytest.approx(1_364_443_428.23, rel=1e-9)
    assert crash.value("liquidations.long_usd", "BTC+ETH") == pytest.approx(1_044_060_470.66, rel=1e-9)
    assert crash.value("liquidations.short_usd", "BTC+ETH") == pytest.approx(320_382_957.57, rel=1e-9)
    assert crash.value("liquidations.long_share_pct", "BTC+ETH") == 76.52
    origins = {o for s in total.sources for o in s.origin.split(", ")}
    assert len(origins) == 4 and all("_usd_daily.csv" in o for o in origins)
    assert "BTC and ETH only" in total.sources[0].note


def test_btc_and_eth_are_separate_subjects_and_nothing_claims_all_coins(crash):
    assert crash.value("liquidations.total_usd", "BTC") == pytest.approx(893_240_946.54, rel=1e-9)
    assert crash.value("liquidations.total_usd", "ETH") == pytest.approx(471_202_481.69, rel=1e-9)
    assert crash.value("liquidations.long_share_pct", "BTC") == 77.07
    assert crash.value("liquidations.long_share_pct", "ETH") == 75.47
    btc_long = crash.get("liquidations.long_usd", "BTC")
    assert btc_long.detail["qty"] == pytest.approx(10286.41337413) and btc_long.detail["qty_unit"] == "BTC"
    assert not [f for f in crash if f.id.startswith("liquidations.") and f.subject in ("crypto", "all")]


def test_crash_day_zscore_against_the_trailing_year(crash):
    # The values are recomputed from the raw CryptoQuant rows in test_unusual_from_raw.py; here: the
    # headline z finding is the total's statistic, over a full year.
    z = crash.get("liquidations.zscore_1y", "BTC+ETH")
    total = crash.get("liquidations.total_usd", "BTC+ETH")
    assert z.value == total.unusual["zscore"] and z.detail["percentile"] == total.unusual["percentile"]
    assert z.detail["days"] == total.unusual["days"] == 365 and total.unusual["history"] == "1y daily"
    for subject in ("BTC", "ETH"):
        assert crash.value("liquidations.zscore_1y", subject) == crash.get("liquidations.total_usd", subject).unusual["zscore"]


def test_a_finding_as_of_midday_does_not_see_that_days_row(store):
    fs = _fs(store, utc(2026, 2, 5, 12, 0))
    total = fs.get("liquidations.total_usd", "BTC+ETH")
    assert total.window == "1d:2026-02-04"
    assert total.value == pytest.approx(99_388_742.49 + 25_105_276.32 + 110_480_905.76 + 59_786_708.73, rel=1e-8)
    assert fs.value("liquidations.long_share_pct", "BTC+ETH") == 71.2
    # and open interest as of the crash morning is 2026-02-05's, not 2026-02-06's 22,525,248,889
    assert _fs(store, CRASH).value("derivatives.open_interest_usd", "BTC") == pytest.approx(22_435_455_913.92)


# -- derivatives ---------------------------------------------------------------------------------

def test_open_interest_funding_and_leverage_on_the_crash_day(crash):
    assert crash.value("derivatives.open_interest_usd", "BTC") == pytest.approx(22_435_455_913.91925)
    one = leverage.pick(crash, "derivatives.open_interest_change_pct", "BTC", "1d")
    seven = leverage.pick(crash, "derivatives.open_interest_change_pct", "BTC", "7d")
    assert (one.value, one.window) == (-8.09, "1d:2026-02-04..2026-02-05")
    assert (seven.value, seven.window) == (-24.93, "7d:2026-01-29..2026-02-05")
    assert crash.get("derivatives.open_interest_change_pct", "BTC") is one  # get() gives the 1 d change
    assert crash.value("derivatives.funding_rate_pct", "BTC") == pytest.approx(0.0025211516666666)
    assert crash.value("derivatives.leverage_ratio", "BTC") == 0.24153805
    assert crash.get("derivatives.open_interest_usd", "BTC").unusual["percentile"] == 0.0  # lowest in a year


def test_eth_derivatives_are_not_available_with_a_reason(crash):
    f = crash.get("derivatives.open_interest_usd", "ETH")
    assert f.value is None and "no open_interest_usd series for ETH" in f.note


def test_largest_liquidation_is_not_available_without_events(crash):
    for window in ("24h", "1d"):
        f = leverage.pick(crash, "liquidations.largest_usd", "BTC", window)
        assert f.value is None and "no event-level liquidations stored for BTC" in f.note


def test_series_give_90_days_of_stacked_bars_and_open_interest(crash):
    bars, oi = crash.series["leverage.liquidations_daily"], crash.series["leverage.open_interest_daily"]
    assert len(bars.x) == 90 and bars.x[-1] == "2026-02-05" and bars.x[0] == "2025-11-08"
    assert bars.extra["short_usd"][-1] == pytest.approx(320_382_957.57, rel=1e-9)
    assert oi.y[-1] == pytest.approx(22_435_455_913.91925) and oi.x[-1] == "2026-02-05"


def test_leverage_runs_inside_the_full_compute(store):
    fs = metrics.compute(store, CRASH, areas=("leverage",), with_series=True)
    assert fs.value("liquidations.total_usd", "BTC+ETH") == pytest.approx(1.3644e9, rel=1e-4)
    assert fs.params["leverage"]["history_days"] == 365


# -- event-level findings (recorded payloads) ----------------------------------------------------

@pytest.fixture(scope="module")
def events_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("events") / "events.duckdb"
    jobs = [(FIXTURES / "binance/forceOrder-live-2026-10-09.jsonl", "binance-live", binance_force_order.parse),
            (FIXTURES / "bybit/allLiquidation-live-2026-10-09.jsonl", "bybit-live", bybit_liquidation.parse),
            (FIXTURES / "okx/liquidation-orders-live-2026-10-09.jsonl", "okx-live", okx_liquidation.parse)]
    if not all(p.is_file() for p, _, _ in jobs):
        missing("recorded payload fixtures not present")
    with Store(path) as s:
        ingest.run(s, jobs, allow_quarantine=True)
    return path


def test_events_give_count_total_and_largest_with_venue_symbol_time_side(events_db):
    with Store(events_db, read_only=True) as s:
        fs = _fs(s, utc(2026, 10, 9, 18, 0))
    largest = leverage.pick(fs, "liquidations.largest_usd", "BTC", "24h")
    assert largest.value == pytest.approx(15703.861)
    assert {k: largest.detail[k] for k in ("venue", "symbol", "side")} == \
        {"venue": "binance-usdm", "symbol": "BTCUSDT", "side": "long"}
    assert largest.detail["time"] == "2026-10-09T17:06:42.120Z"
    count = leverage.pick(fs, "liquidations.count", "BTC", "24h")
    assert count.value == 4 and count.detail["by_venue"] == {"binance-usdm": 1, "bybit": 2, "okx": 1}
    total = leverage.pick(fs, "liquidations.total_usd", "BTC", "24h")
    assert total.value == pytest.approx(15703.861 + 494.3814 + 3130.9834 + 7067.06235)
    assert "lower bound" in {s.table: s for s in total.sources if "binance" in s.origin}["liquidations"].note
    assert "lower bounds" in total.note
    assert leverage.pick(fs, "liquidations.largest_usd", "ETH", "24h").value is None
    # the events are on 2026-10-09, not in the last complete day (2026-10-08): no count for that day
    assert leverage.pick(fs, "liquidations.count", "BTC", "1d:2026-10-08").value is None


def test_an_event_pushed_after_as_of_is_not_seen(events_db):
    with Store(events_db, read_only=True) as s:
        # 17:06:43.000: the Binance event traded at 42.120 but was pushed at 43.055
        fs = _fs(s, dt.datetime(2026, 10, 9, 17, 6, 43, tzinfo=dt.timezone.utc))
    assert leverage.pick(fs, "liquidations.count", "BTC", "24h").value == 3
    assert leverage.pick(fs, "liquidations.largest_usd", "BTC", "24h").detail["venue"] == "okx"


def test_cli_ingest_events_replay_adds_nothing_and_quarantine_exits_1(tmp_path):
    from btcstress.cli import app
    db = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    f = str(FIXTURES / "bybit/allLiquidation-live-2026-10-09.jsonl")
    first = runner.invoke(app, ["--db", db, "ingest", "events", f, "--venue", "bybit"])
    again = runner.invoke(app, ["--db", db, "ingest", "events", f, "--venue", "bybit"])
    assert first.exit_code == 0 and "2 new" in first.stdout
    assert again.exit_code == 0 and "0 new" in again.stdout and "2 unchanged" in again.stdout
    okx = runner.invoke(app, ["--db", db, "ingest", "events", str(FIXTURES / "okx/liquidation-orders-live-2026-10-09.jsonl"),
                              "--venue", "okx"])
    assert okx.exit_code == 1
    assert runner.invoke(app, ["--db", db, "ingest", "events", f, "--venue", "kraken"]).exit_code == 2


# -- cited figures -------------------------------------------------------------------------------

@pytest.fixture()
def writable(snapshot_db, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(snapshot_db, path)
    return str(path)


def test_cited_figures_sit_beside_computed_ones_and_are_never_summed(writable, tmp_path):
    from btcstress.cli import app
    runner = CliRunner()
    r = runner.invoke(app, ["--db", writable, "cite", "add", "--finding", "liquidations.total_usd", "--subject", "crypto",
                            "--value", "2.65e9", "--unit", "USD", "--as-of", "2026-02-06T08:00Z", "--window", "24h",
                            "--source", "CoinGlass via news story", "--url", "https://www.coinglass.com/LiquidationData"])
    assert r.exit_code == 0, r.output
    csv = tmp_path / "cites.csv"
    csv.write_text("finding,subject,value,unit,as_of,window,source,url,note\n"
                   "liquidations.largest_usd,BTC,12e6,USD,2026-02-06T06:00Z,24h,news story,,Binance BTCUSDT\n"
                   "liquidations.total_usd,crypto,lots,USD,2026-02-06T08:00Z,24h,x,,\n")
    r = runner.invoke(app, ["--db", writable, "cite", "import", str(csv)])
    assert r.exit_code == 1  # one bad row quarantined
    with Store(writable, read_only=True) as s:
        fs = _fs(s, CRASH)
        before = _fs(s, utc(2026, 2, 6, 7, 0))
        later = _fs(s, utc(2026, 2, 10, 8, 0))
    c = fs.get("liquidations.total_usd", "crypto")
    assert (c.kind, c.value, c.window) == ("cited", 2.65e9, "24h")
    assert c.sources[0].origin == "CoinGlass via news story (https://www.coinglass.com/LiquidationData)"
    assert fs.value("liquidations.total_usd", "BTC+ETH") == pytest.approx(1_364_443_428.23, rel=1e-9)
    # the computed largest_usd (not available) still wins get(); the cited $12M is found by kind
    assert fs.get("liquidations.largest_usd", "BTC").kind == "computed"
    assert [(f.id, f.value, f.detail["source"]) for f in leverage.cited(fs, "liquidations.largest")] == \
        [("liquidations.largest_usd", 12e6, "news story")]
    assert [f.value for f in leverage.cited(before)] == [12e6]  # the 08:00 figure is not known at 07:00
    assert leverage.cited(later) == []  # older than cited_max_age_hours
    assert runner.invoke(app, ["--db", writable, "cite", "add", "--finding", "Total", "--subject", "x", "--value", "1",
                               "--as-of", "2026-02-06", "--source", "s"]).exit_code == 2


def test_the_package_ships_no_cited_values(store):
    """Citations come only from the data a user ingests (the snapshot's published miner cost estimates,
    `btcstress cite`), never from the package."""
    origins = store.table("citations").origin.execute()
    assert not any(o.startswith("package") for o in origins)
    assert all(o.startswith("snapshot/miners/published_production_cost_estimates") for o in origins)


def test_single_venue_derivatives_are_never_mixed_with_the_all_exchange_series(tmp_path, snapshot_dir):
    """A live Binance open-interest row on the same day as CryptoQuant's: CryptoQuant's value and
    note are used, and the Binance row is not counted in the provenance."""
    import pyarrow as pa

    from btcstress.parsers import snapshot

    jobs, _ = snapshot.plan(snapshot_dir)
    with Store(tmp_path / "s.duckdb") as s:
        ingest.run(s, [j for j in jobs if "liquidations/" in j[1] or "price/" in j[1]], allow_quarantine=True)
        s.upsert("derivatives_daily", pa.table({
            "date": [dt.date(2026, 2, 5)], "asset": ["BTC"], "open_interest_usd": [9.0e9],
            "origin": ["https://fapi.binance.com/futures/data/openInterestHist"]}))
        fs = metrics.compute(s, CRASH, areas=("price", "leverage"))
    oi = fs.get("derivatives.open_interest_usd", "BTC")
    assert oi.value == pytest.approx(22.435e9, rel=1e-3)
    assert "CryptoQuant" in oi.sources[0].note and "binance" not in oi.sources[0].origin
