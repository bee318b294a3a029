"""mempool.space -> network_daily with the miners area's metric names. Payloads are written here from
mempool.space's documented REST responses (not captures): /api/v1/mining/hashrate/{period} and
/api/v1/mining/blocks/fees?from=&to= (one row per block for a span of a day)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import respx

from btcstress.connectors.http import Http, RetryPolicy
from btcstress.connectors.mempool import BLOCKS_ORIGIN, HASHRATE_ORIGIN, Mempool, period_for
from btcstress.metrics.miners import NETWORK_METRICS
from btcstress.parsers import mempool as parse
from btcstress.store import Store

URL = "https://mempool.test"


def epoch(d: dt.date, hours: float = 0) -> int:
    return int((dt.datetime.combine(d, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds() + hours * 3600)


D20, D21 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
HASHRATE = {"hashrates": [{"timestamp": epoch(D20), "avgHashrate": 1.10e21},
                          {"timestamp": epoch(D21), "avgHashrate": 1.12e21},
                          {"timestamp": epoch(D21 + dt.timedelta(days=1)), "avgHashrate": 1.3e21}],
            "difficulty": [{"time": epoch(D20, -240), "height": 924_000, "difficulty": 1.50e14, "adjustment": 1.01},
                           {"time": epoch(D21, 13), "height": 926_016, "difficulty": 1.55e14, "adjustment": 1.03}],
            "currentHashrate": 1.3e21, "currentDifficulty": 1.55e14}


def blocks_for(d: dt.date) -> list[dict]:
    base = 925_000 if d == D20 else 925_144
    return [{"avgHeight": base + k, "timestamp": epoch(d, 1 + 8 * k), "avgFees": 2_000_000 + k * 500_000,
             "USD": 90_000 + k * 100} for k in range(3)]


def test_subsidy_follows_the_halving_schedule():
    assert parse.subsidy_sats(0) == 50 * 10**8
    assert parse.subsidy_sats(839_999) == 625_000_000 and parse.subsidy_sats(840_000) == 312_500_000


def test_hashrate_and_difficulty_in_force_at_each_days_end():
    p = parse.parse_hashrate(json.dumps(HASHRATE), "o", complete_before=D21 + dt.timedelta(days=1))
    rows = {(r["date"], r["metric"]): r["value"] for r in p.rows["network_daily"]}
    assert rows == {(D20, "hashrate_hs"): 1.10e21, (D20, "difficulty"): 1.50e14,
                    (D21, "hashrate_hs"): 1.12e21, (D21, "difficulty"): 1.55e14}
    assert p.skipped["a day not over yet"] == 1


def test_a_days_blocks_give_counts_fees_and_rewards_with_the_subsidy_by_height():
    p = parse.parse_day_blocks(json.dumps(blocks_for(D20)), "o", day=D20)
    v = {r["metric"]: r["value"] for r in p.rows["network_daily"]}
    fees = (2_000_000 + 2_500_000 + 3_000_000) / 1e8
    assert v["blocks"] == 3 and v["fees_btc"] == pytest.approx(fees)
    assert v["block_rewards_btc"] == pytest.approx(3 * 3.125 + fees)
    assert v["block_rewards_usd"] == pytest.approx(sum((3.125 + (2e6 + k * 5e5) / 1e8) * (90_000 + k * 100)
                                                       for k in range(3)))
    assert set(v) <= set(NETWORK_METRICS)


def test_two_blocks_in_one_second_refuse_the_day_instead_of_undercounting():
    rows = blocks_for(D20)
    rows[1]["avgHeight"] = 925_001.5
    p = parse.parse_day_blocks(json.dumps(rows), "o", day=D20)
    assert "network_daily" not in p.rows and p.quarantine[0]["field"] == "avgHeight"


@respx.mock
def test_connector_stores_days_and_backfills_a_day_that_failed(tmp_path):
    respx.get(f"{URL}/api/v1/mining/hashrate/1m").mock(return_value=httpx.Response(200, json=HASHRATE))
    fail_d20 = {"on": True}

    def fees(request):
        start = int(request.url.params["from"])
        d = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=start)).date()
        assert int(request.url.params["to"]) == start + 86_399
        if d == D20 and fail_d20["on"]:
            return httpx.Response(500)
        return httpx.Response(200, json=blocks_for(d))
    respx.get(f"{URL}/api/v1/mining/blocks/fees").mock(side_effect=fees)
    conf = {"mempool": {"url": URL, "rate": 1e9}}
    with Store(tmp_path / "s.duckdb") as store:
        h = Http(policy=RetryPolicy(attempts=2, backoff=0.001), sleep=lambda s: None, default_rate=1e9)
        first = Mempool(h, conf).run(store, since=dt.datetime(2026, 11, 20), until=dt.datetime(2026, 11, 22, 10))
        assert any("blocks 2026-11-20" in n for n in first.notes)
        fail_d20["on"] = False
        second = Mempool(h, conf).run(store, since=dt.datetime(2026, 11, 20), until=dt.datetime(2026, 11, 22, 10))
        assert (second.gaps_found, second.gaps_filled) == (1, 1)
        t = store.table("network_daily").execute()
    got = {(r.date.date(), r.metric, r.origin) for r in t.itertuples()}
    assert (D20, "blocks", BLOCKS_ORIGIN) in got and (D21, "block_rewards_usd", BLOCKS_ORIGIN) in got
    assert (D21, "hashrate_hs", HASHRATE_ORIGIN) in got
    assert len(t) == 4 + 2 * 4  # hashrate+difficulty for two days, four block metrics for two days
    assert set(t["metric"]) <= set(NETWORK_METRICS)


def test_period_is_the_shortest_that_covers_since():
    assert [period_for(n) for n in (10, 31, 365, 731, 5000)] == ["1m", "3m", "1y", "3y", "all"]
