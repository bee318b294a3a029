"""Network and miner-flow importers: real files read in place, unit checks, validation, idempotency."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from btcstress.parsers import cq_network, snapshot

NETWORK_FILES = sorted(k for k in snapshot.IMPORTERS if k.startswith("network/"))


def test_every_network_file_has_an_importer(snapshot_dir):
    on_disk = sorted(p.relative_to(snapshot_dir).as_posix() for p in (snapshot_dir / "network").glob("*.csv"))
    assert len(on_disk) == 15
    assert on_disk == NETWORK_FILES


def test_network_files_parse_without_quarantine_and_count_every_line(snapshot_dir):
    for rel in NETWORK_FILES:
        text = (snapshot_dir / rel).read_text(encoding="utf-8-sig")
        parsed = snapshot.IMPORTERS[rel](text, f"snapshot/{rel}")
        stored = sum(len(v) for v in parsed.rows.values())
        assert parsed.quarantine == [], rel
        assert stored + sum(parsed.skipped.values()) == parsed.lines_in, rel


def test_store_holds_every_metric_with_the_expected_row_counts(store):
    def counts(table):
        t = store.table(table)
        col = "metric" if table != "indicators_daily" else "name"
        return dict(t.group_by(col).aggregate(n=t.count()).execute().itertuples(index=False))

    assert counts("network_daily") == {
        "hashrate_hs": 6302,  # 5 blank days in 2009 skipped
        "difficulty": 6307, "blocks": 6307, "block_rewards_btc": 6307, "fees_btc": 6307, "supply_btc": 6307,
        "block_rewards_usd": 6032, "fees_usd": 6017,  # leading zeros before a USD price skipped
    }
    assert counts("miner_flows_daily") == {"reserve_btc": 6302, "reserve_usd": 6033, "outflow_btc": 6302,
                                           "netflow_btc": 6302, "to_exchange_btc": 5100}
    ind = counts("indicators_daily")
    assert ind["miners_position_index"] == 5573 and ind["puell_multiple"] == 1927


def _wide(store, *metrics):
    t = store.table("network_daily")
    return t.group_by("date").aggregate(**{m: t.value.max(where=t.metric == m) for m in metrics})


def test_hashrate_is_gh_per_s_and_stored_as_h_per_s_matching_difficulty(store):
    # Expected hashrate at target pace: difficulty x 2^32 / 600 s. On a 7-day basis the stored H/s sits
    # within a band around 1 (the ratio is the block pace: slow weeks < 1, fast weeks > 1).
    w = _wide(store, "hashrate_hs", "difficulty")
    win = ibis.window(order_by=w.date, preceding=6, following=0)
    r = w.mutate(ratio=w.hashrate_hs.mean().over(win) / (w.difficulty * 2**32 / 600).mean().over(win))
    r = r.filter(r.date >= dt.date(2016, 1, 1))
    q = r.aggregate(med=r.ratio.median(), lo=r.ratio.quantile(0.025), hi=r.ratio.quantile(0.975),
                    n=r.count()).execute().iloc[0]
    assert q.n > 3700
    assert 0.98 < q.med < 1.07
    assert 0.80 < q.lo and q.hi < 1.25
    # The crash-window row from SOURCES.md: 1.021e12 GH/s on 2026-02-06 -> 1.021e21 H/s.
    day = w.filter(w.date == dt.date(2026, 2, 6)).execute().iloc[0]
    assert day.hashrate_hs == pytest.approx(1.021142173558692e21, rel=1e-12)
    assert day.difficulty == pytest.approx(141668107417558.2)


def _halving_subsidy(d: dt.date) -> float:
    for start, sub in ((dt.date(2024, 4, 20), 3.125), (dt.date(2020, 5, 11), 6.25), (dt.date(2016, 7, 9), 12.5),
                       (dt.date(2012, 11, 28), 25.0)):
        if d >= start:
            return sub
    return 50.0


HALVING_DAYS = {dt.date(2012, 11, 28), dt.date(2016, 7, 9), dt.date(2020, 5, 11), dt.date(2024, 4, 20)}


def test_block_rewards_include_fees_and_subsidy_follows_the_halving_schedule(store):
    w = _wide(store, "block_rewards_btc", "fees_btc", "blocks")
    df = w.mutate(subsidy=w.block_rewards_btc - w.fees_btc).order_by("date").execute()
    df["date"] = [d.date() if hasattr(d, "date") else d for d in df.date]
    df["expected"] = [b * _halving_subsidy(d) for b, d in zip(df.blocks, df.date)]
    normal = df[~df.date.isin(HALVING_DAYS)]
    diff = normal.subsidy - normal.expected
    # Exact on nearly every day; the exceptions are real under-claimed coinbases (2012 pools,
    # 2017-12-30 a block that claimed nothing: -12.5), never an over-claim, never more than one subsidy.
    since_2014 = (normal.date >= dt.date(2014, 1, 1)).to_numpy()
    assert (diff[since_2014].abs() < 1e-4).mean() > 0.99
    assert diff.max() < 1e-4
    assert (diff >= -normal.expected / normal.blocks.clip(lower=1) - 1e-6).all()
    assert diff[normal.date == dt.date(2017, 12, 30)].iloc[0] == pytest.approx(-12.5)
    # On a halving day the blocks straddle two subsidies: subsidy lies between the two schedules.
    for d in HALVING_DAYS:
        row = df[df.date == d].iloc[0]
        assert row.blocks * _halving_subsidy(d) <= row.subsidy + 1e-6 <= 2 * row.blocks * _halving_subsidy(d) + 1e-6
    crash = df[df.date == dt.date(2026, 2, 6)].iloc[0]
    assert crash.block_rewards_btc == pytest.approx(145 * 3.125 + 6.2408455)


def test_usd_series_skip_zeros_before_a_price_but_keep_later_zeros():
    text = "date,Fees USD (Total)\n2009-01-03,0.0\n2009-01-04,0\n2010-07-18,0.5\n2010-07-19,0.0\n"
    p = cq_network.parse_metric(text, "t.csv", target="network_daily", metric="fees_usd", column="Fees USD (Total)",
                                leading_zeros_empty=True)
    assert [(r["date"].isoformat(), r["value"]) for r in p.rows["network_daily"]] == [
        ("2010-07-18", 0.5), ("2010-07-19", 0.0)]
    assert p.skipped["zero before the series has a USD value"] == 2


def test_bad_rows_go_to_quarantine_with_field_and_reason():
    text = ("date,Blocks Mined\n2026-02-05,127\n2026-02-06,14.5\n2026-02-07,-3\n2026-13-01,140\n"
            "2026-02-08,abc\n2026-02-09,1,2\n")
    p = cq_network.parse_metric(text, "t.csv", target="network_daily", metric="blocks", column="Blocks Mined",
                                whole=True)
    assert [r["value"] for r in p.rows["network_daily"]] == [127]
    reasons = {q["line"]: (q["field"], q["reason"]) for q in p.quarantine}
    assert reasons[3] == ("Blocks Mined", "not a whole number")
    assert reasons[4] == ("Blocks Mined", "must be >= 0")
    assert reasons[5] == ("date", "not a date (YYYY-MM-DD)")
    assert reasons[6] == ("Blocks Mined", "not a number")
    assert reasons[7][0] == "*"


def test_net_flow_may_be_negative_but_outflow_may_not():
    text = "date,Miner Netflow Total\n2026-02-06,-2699.08\n"
    p = cq_network.parse_metric(text, "t.csv", target="miner_flows_daily", metric="netflow_btc",
                                column="Miner Netflow Total", sign="any")
    assert p.rows["miner_flows_daily"][0]["value"] == -2699.08 and not p.quarantine
    p = cq_network.parse_metric(text.replace("Netflow Total", "Outflow (Total)"), "t.csv", target="miner_flows_daily",
                                metric="outflow_btc", column="Miner Outflow (Total)")
    assert not p.rows and p.quarantine[0]["reason"] == "must be >= 0"


def test_a_file_wired_to_the_wrong_metric_fails_loudly():
    from btcstress.errors import ParseError
    with pytest.raises(ParseError, match="missing column"):
        cq_network.parse_metric("date,Difficulty\n2026-02-06,1.0\n", "t.csv", target="network_daily",
                                metric="hashrate_hs", column="Hashrate")


def test_reingesting_the_network_files_adds_nothing(tmp_path, snapshot_dir):
    from btcstress import ingest
    from btcstress.store import Store
    jobs = [(snapshot_dir / rel, f"snapshot/{rel}", snapshot.IMPORTERS[rel]) for rel in NETWORK_FILES]
    with Store(tmp_path / "s.duckdb") as s:
        first = ingest.run(s, jobs)
        before = s.counts()
        second = ingest.run(s, jobs)
        assert first.stored.new == sum(f.lines_in for f in first.files) - first.skipped
        assert second.stored.new == 0 and second.stored.updated == 0
        after = s.counts()
        assert {k: v for k, v in after.items() if k != "ingest_log"} == \
            {k: v for k, v in before.items() if k != "ingest_log"}  # the log records each run, by design
