"""The claim checker: the story's 16 claims against the snapshot, tolerance edges on made-up findings,
each kind of reason, the parser's errors, and the `check` command's formats and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from btcstress import claims
from btcstress.cli import app
from btcstress.errors import InputError
from btcstress.findings import Finding, FindingSet, Source
from tests.conftest import CRASH, SNAPSHOT, utc

runner = CliRunner()
STORY = SNAPSHOT / "claims" / "story-2026-02-06.csv"
HEADER = "claim_id,finding_id,subject,comparator,value,unit,as_of,window,quote\n"

# The honest verdicts as of 2026-02-06T08:00Z (docs/METRICS.md#claims explains each one).
EXPECTED = {
    "c01": "supported",     # low so far on 02-06: 60,000 (Binance spot) vs 60,030
    "c02": "contradicted",  # trailing 24h at 08:00Z is -8.3%; -14.0% was 02-05 close to close
    "c03": "contradicted",  # -$310.6B on 02-05 (last complete day), 12.7% short of -$350B
    "c04": "supported",     # ATH 126,209.56
    "c05": "supported",     # last 64,856
    "c06": "supported",     # below the 2024-11-05 close of 69,380
    "c07": "supported",     # modelled all-in cost 103,993 > 87,000
    "c08": "supported",     # reserve 1,803,858 BTC
    "c09": "supported",     # at 08:00Z IBIT had not reported (it counts from 18:00Z): preliminary -258.8M
    "c10": "supported",     # -544.9M on 02-04
    "c11": "supported",     # streak 02-03..05 with IBIT missing on 02-05: -1,075.7M < -1.07B
    "c12": "unverifiable",  # all coins; we have BTC+ETH ($1.36B)
    "c13": "unverifiable",  # a share over all coins
    "c14": "unverifiable",  # no event-level liquidations
    "c15": "contradicted",  # -7.99B at 64,856 (12.7% off); -9.45B at the 02-05 close
    "c16": "supported",     # -14.7% vs -16% (1.28 pp)
}


@pytest.fixture(scope="module")
def story(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "check", str(STORY), "--as-of", "2026-02-06T08:00:00Z", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    return {v["claim_id"]: v for v in out["verdicts"]}, out


def test_story_claims_get_the_pinned_verdicts(story):
    by_id, out = story
    assert {k: v["verdict"] for k, v in by_id.items()} == EXPECTED
    assert out["counts"] == {"supported": 10, "contradicted": 3, "unverifiable": 3}
    for v in by_id.values():
        assert {"claim_id", "verdict", "claimed", "computed", "difference", "reason", "finding"} <= set(v)
        assert v["reason"], v["claim_id"]


def test_story_computed_values_are_the_data(story):
    by_id, _ = story
    assert by_id["c01"]["computed"] == 60000.0 and by_id["c01"]["finding"]["id"] == "price.low_24h_usd"
    assert by_id["c04"]["computed"] == pytest.approx(126209.56, abs=0.01)
    assert by_id["c05"]["computed"] == 64856.0
    assert by_id["c03"]["computed"] == pytest.approx(-310.564e9, rel=1e-4)
    assert by_id["c08"]["computed"] == 1803858.0
    # -434.1M final minus IBIT's -175.3M (SOURCES.md): the figure before IBIT reported.
    assert by_id["c09"]["computed"] == pytest.approx(-434.1e6 + 175.3e6) and by_id["c09"]["difference"] == pytest.approx(0)
    assert by_id["c10"]["computed"] == pytest.approx(-544.9e6) and by_id["c10"]["finding"]["window"] == "1d:2026-02-04"
    assert by_id["c11"]["computed"] == pytest.approx(-272.0e6 - 544.9e6 - 258.8e6)
    assert by_id["c12"]["computed"] == pytest.approx(1.364e9, rel=1e-3)
    assert by_id["c16"]["computed"] == pytest.approx(-14.72, abs=0.01)


def test_incomplete_day_is_said_and_the_day_so_far_is_used(story):
    by_id, _ = story
    assert "2026-02-06 is not complete at 2026-02-06 08:00Z" in by_id["c01"]["reason"]
    assert "bar opened 2026-02-06T00:00Z" in by_id["c01"]["reason"]
    assert "latest complete day, 2026-02-05" in by_id["c03"]["reason"]


def test_claim_about_an_earlier_day_is_read_when_that_day_was_the_latest(story):
    by_id, _ = story
    assert by_id["c10"]["evaluated_as_of"] == "2026-02-05T23:59:59Z"
    assert by_id["c05"]["evaluated_as_of"] == "2026-02-06T08:00:00Z"


def test_preliminary_vintage_reason_names_the_missing_fund(story):
    r = story[0]["c09"]["reason"]
    assert "preliminary vintage" in r and "IBIT not yet reported" in r and "-$258.8M" in r


def test_all_coin_liquidations_reason_says_btc_eth_only(story):
    by_id, _ = story
    for cid in ("c12", "c13"):
        assert "BTC and ETH only" in by_id[cid]["reason"] and "BTC+ETH was" in by_id[cid]["reason"]


def test_event_level_figure_is_not_available(story):
    r = story[0]["c14"]
    assert r["computed"] is None and "not available" in r["reason"] and "event-level" in r["reason"]


def test_modelled_cost_shows_its_parameters_and_sensitivity(story):
    r = story[0]["c07"]
    assert r["finding"]["kind"] == "modelled"
    assert "modelled, not observed" in r["reason"] and "power_price_usd_kwh=0.045" in r["reason"]
    # The sensitivity band, and at which power prices "> $87,000" holds, read back from the same reason.
    band = dict(re.findall(r"\$(0\.\d+)/kWh: \$([\d,]+)", r["reason"].split("the claim holds at")[0]))
    assert set(band) == {"0.03", "0.045", "0.07"}
    holds = [pp for pp, v in band.items() if int(v.replace(",", "")) > 87_000]
    assert r["reason"].split("the claim holds at ")[1].startswith(", ".join(f"${pp}/kWh" for pp in holds))
    # The definition compared, and the published estimates known by then, are named (cited, never mixed).
    assert "definition: all_in at $0.045/kWh" in r["reason"]
    assert "CryptoQuant 2026-02-05 $87,000 (all_in)" in r["reason"]


def test_different_window_and_valuation_price_are_named(story):
    by_id, _ = story
    assert "price.change_1d_pct" in by_id["c02"]["reason"] and "different window" in by_id["c02"]["reason"]
    assert "daily close ($62,809" in by_id["c15"]["reason"] and "-$9.45B" in by_id["c15"]["reason"]
    assert "price.below_event" in by_id["c06"]["reason"] and "$69,380" in by_id["c06"]["reason"]


# -- a preliminary vintage in the store ---------------------------------------------------------------

def test_preliminary_vintage_supports_the_claim_before_the_final_one(tmp_path, snapshot_db, snapshot_dir):
    from tests.test_etf_vintages import reconstruct_preliminary
    db = tmp_path / "s.duckdb"
    shutil.copy(snapshot_db, db)
    prelim = reconstruct_preliminary(snapshot_dir / "etf/farside_btc_etf_flows_daily.csv", tmp_path / "prelim.csv")
    r = runner.invoke(app, ["--db", str(db), "ingest", "etf", str(prelim), "--published-at", "2026-02-05T23:30Z"])
    assert r.exit_code == 0, r.output
    rows = [{"claim_id": "c09", "finding_id": "etf.net_flow_usd", "subject": "US spot BTC ETFs",
             "comparator": "approx", "value": -258.8e6, "unit": "USD", "as_of": "2026-02-05", "window": "1d"}]
    from btcstress.store import Store
    with Store(db, read_only=True) as store:
        early = claims.check(store, rows, utc(2026, 2, 5, 23, 45))[0]
        late = claims.check(store, rows, utc(2026, 2, 6, 18, 0))[0]  # IBIT's usual time: final
    assert early.verdict == "supported" and early.computed == pytest.approx(-258.8e6)
    assert "preliminary vintage" in early.reason and "IBIT" in early.reason
    assert late.verdict == "contradicted" and "matches another vintage" in late.reason
    assert late.alternatives[0]["preliminary"] is True


# -- tolerances and rules on made-up findings (no store) ----------------------------------------------

T = utc(2026, 2, 6, 8)


def _f(id, value, unit, subject="BTC", window="1d:2026-02-05", **kw) -> Finding:
    return Finding(id=id, subject=subject, value=value, unit=unit, as_of=T, window=window,
                   sources=[Source(table="t", origin="test", rows=1)], **kw)


def _check(rows: str, *findings: Finding):
    fs = FindingSet(T, list(findings))
    return claims.check_with(HEADER + rows, T, lambda t, price=None, areas=None: fs)


@pytest.mark.parametrize("claimed,verdict", [(102000, "supported"), (98000, "supported"),
                                             (102001, "contradicted"), (97999, "contradicted")])
def test_price_tolerance_is_two_percent(claimed, verdict):
    v = _check(f"x,price.last_usd,BTC,approx,{claimed},USD,2026-02-06,spot,\n", _f("price.last_usd", 100000.0, "USD"))
    assert v[0].verdict == verdict


@pytest.mark.parametrize("claimed,verdict", [(-110e9, "supported"), (-90e9, "supported"),
                                             (-110.1e9, "contradicted"), (-89.9e9, "contradicted")])
def test_usd_total_tolerance_is_ten_percent(claimed, verdict):
    f = _f("market.total_cap_change_usd", -100e9, "USD", subject="crypto", detail={"date": "2026-02-05"})
    v = _check(f"x,market.total_cap_change_usd,crypto,approx,{claimed},USD,2026-02-05,1d,\n", f)
    assert v[0].verdict == verdict


@pytest.mark.parametrize("claimed,verdict", [(-16.0, "supported"), (-12.0, "supported"), (-16.01, "contradicted")])
def test_percent_tolerance_is_two_points(claimed, verdict):
    f = _f("treasury.unrealized_pnl_pct", -14.0, "pct", subject="Strategy", window="holdings as of 2026-02-01")
    assert _check(f"x,treasury.unrealized_pnl_pct,Strategy,approx,{claimed},pct,2026-02-06,spot,\n", f)[0].verdict == verdict


@pytest.mark.parametrize("claimed,verdict", [(1_010_000, "supported"), (1_010_001, "contradicted")])
def test_btc_tolerance_is_one_percent(claimed, verdict):
    f = _f("miners.reserve_btc", 1_000_000.0, "BTC", detail={"day": "2026-02-05"})
    assert _check(f"x,miners.reserve_btc,BTC,approx,{claimed},BTC,2026-02-05,1d,\n", f)[0].verdict == verdict


def test_gt_and_lt_are_strict():
    f = _f("miners.production_cost_usd", 87000.0, "USD", kind="modelled", params={"power_price_usd_kwh": 0.045})
    v = _check("a,miners.production_cost_usd,BTC,gt,87000,USD,2026-02-06,1d,\n"
               "b,miners.production_cost_usd,BTC,lt,87001,USD,2026-02-06,1d,\n", f)
    assert [x.verdict for x in v] == ["contradicted", "supported"]
    assert "modelled" in v[0].reason and "power_price_usd_kwh=0.045" in v[0].reason


def test_a_daily_claim_for_a_day_without_a_figure_is_unverifiable():
    f = _f("etf.net_flow_usd", -1e6, "USD", subject="US spot BTC ETFs", window="1d:2026-02-05",
           detail={"date": "2026-02-05"})
    # 2026-02-01 was complete long before; the latest ETF day is 02-05: nothing published for 02-01 (a Sunday)
    v = _check("x,etf.net_flow_usd,US spot BTC ETFs,approx,-1000000,USD,2026-02-01,1d,\n", f)[0]
    assert v.verdict == "unverifiable" and "no etf.net_flow_usd for 2026-02-01" in v.reason


def test_a_claim_dated_after_as_of_is_unverifiable():
    v = _check("x,price.last_usd,BTC,approx,1,USD,2026-02-07,spot,\n", _f("price.last_usd", 1.0, "USD"))[0]
    assert v.verdict == "unverifiable" and "after --as-of" in v.reason


def test_btc_eth_liquidations_above_the_claim_support_an_all_coin_gt():
    f = _f("liquidations.total_usd", 3e9, "USD", subject="BTC+ETH", detail={"date": "2026-02-05"})
    v = _check("x,liquidations.total_usd,crypto,gt,2650000000,USD,2026-02-06,24h,\n", f)[0]
    assert v.verdict == "supported" and "can only be larger" in v.reason


def test_a_cited_figure_is_not_evidence():
    f = _f("liquidations.total_usd", 2.65e9, "USD", subject="crypto", window="24h", kind="cited",
           detail={"source": "CoinGlass"})
    v = _check("x,liquidations.total_usd,crypto,gt,2000000000,USD,2026-02-06,24h,\n", f)[0]
    assert v.verdict == "unverifiable" and "CoinGlass" in v.reason


def test_an_unknown_finding_is_unverifiable():
    v = _check("x,miners.largest_pool_btc,BTC,approx,1,BTC,2026-02-06,1d,\n", _f("price.last_usd", 1.0, "USD"))[0]
    assert v.verdict == "unverifiable" and "no finding 'miners.largest_pool_btc'" in v.reason


# -- parsing -----------------------------------------------------------------------------------------

def test_parser_takes_csv_text_or_dicts():
    text = HEADER + 'a,price.last_usd,BTC,approx,"65,000",USD,2026-02-06,spot,"near $65,000"\n'
    (a,) = claims.parse(text)
    (b,) = claims.parse([{"claim_id": "a", "finding_id": "price.last_usd", "subject": "BTC", "comparator": "approx",
                          "value": 65000, "unit": "USD", "as_of": "2026-02-06", "window": "spot"}])
    assert a.value == b.value == 65000.0 and a.day == b.day == dt.date(2026, 2, 6) and a.quote == "near $65,000"


@pytest.mark.parametrize("text,message", [
    ("claim_id,finding_id,subject,comparator,value,unit,as_of,window\n", "missing column(s) quote"),
    (HEADER.replace("window", "windw"), "unknown column(s) windw"),
    (HEADER + "a,price.last_usd,BTC,about,1,USD,2026-02-06,spot,\n", "comparator 'about'"),
    (HEADER + "a,price.last_usd,BTC,approx,lots,USD,2026-02-06,spot,\n", "not a number"),
    (HEADER + "a,price.last_usd,BTC,approx,1,USD,06/02/2026,spot,\n", "as_of '06/02/2026'"),
    (HEADER + "a,price.last_usd,BTC,approx,1,USD,2026-02-06,spot,\na,price.last_usd,BTC,approx,1,USD,2026-02-06,spot,\n",
     "duplicate claim_id"),
    (HEADER, "no claims"),
    ("", "empty file"),
])
def test_parser_rejects_bad_input_clearly(text, message):
    with pytest.raises(InputError, match=None) as exc:
        claims.parse(text)
    assert message in str(exc.value)


# -- the command ---------------------------------------------------------------------------------------

def test_check_markdown_and_table(tmp_path, snapshot_db):
    f = tmp_path / "c.csv"
    f.write_text(HEADER + "a,price.last_usd,BTC,approx,65000,USD,2026-02-06,spot,near 65k\n")
    md = runner.invoke(app, ["--db", str(snapshot_db), "check", str(f), "--as-of", "2026-02-06T08:00Z", "--md"])
    assert md.exit_code == 0, md.output
    assert "| a | price.last_usd | $65,000 | $64,856 |" in md.stdout and "**supported**" in md.stdout
    table = runner.invoke(app, ["--db", str(snapshot_db), "check", str(f), "--as-of", "2026-02-06T08:00Z"])
    assert table.exit_code == 0 and "supported" in table.stdout and "1 supported, 0 contradicted" in table.stdout


@pytest.mark.parametrize("content,args,message", [
    (None, [], "not found"),
    (HEADER.replace("unit", "units") + "a,price.last_usd,BTC,approx,1,USD,2026-02-06,spot,\n", [], "unknown column"),
    (HEADER + "a,price.last_usd,BTC,roughly,1,USD,2026-02-06,spot,\n", [], "comparator 'roughly'"),
    (HEADER + "a,price.last_usd,BTC,approx,1,USD,2026-02-06,spot,\n", ["--json", "--md"], "not both"),
    (HEADER + "a,price.last_usd,BTC,approx,1,USD,2026-02-06,spot,\n", ["--as-of", "yesterday"], "not a timestamp"),
])
def test_check_bad_input_exits_2(tmp_path, snapshot_db, content, args, message):
    f = tmp_path / "c.csv"
    if content is not None:
        f.write_text(content)
    r = runner.invoke(app, ["--db", str(snapshot_db), "check", str(f), *(["--as-of", "2026-02-06T08:00Z"]
                                                                          if "--as-of" not in args else []), *args])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_every_miner_cost_per_btc_gets_the_per_btc_tolerance():
    """The model's costs are all USD per BTC: a claim about any of them is held to the price's 2%,
    not the 10% meant for USD totals (flows, market value)."""
    from btcstress.claims.rules import TOLERANCE, tolerance_for
    for fid in ("miners.production_cost_usd", "miners.electricity_cost_usd", "miners.cash_cost_usd",
                "miners.marginal_cost_usd", "miners.published_cost_usd"):
        assert tolerance_for(fid, "USD") == TOLERANCE["price"], fid
    assert tolerance_for("etf.net_flow_usd", "USD") == TOLERANCE["USD"]
