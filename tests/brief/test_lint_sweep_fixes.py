"""Classes of lint failure the every-day sweep found (docs/PERFORMANCE.md, "Every day, every brief"),
each fixed where the brief is written and pinned here on hand-made findings."""

from __future__ import annotations

import datetime as dt
import re

from btcstress.brief import fmt
from btcstress.brief.lint import EMPTY
from btcstress.brief.sections import price
from btcstress.findings import Finding, FindingSet

T = dt.datetime(2019, 10, 20, 7, tzinfo=dt.timezone.utc)


def _text(p) -> str:
    return "".join(x if isinstance(x, str) else x.text for x in p.parts)


def _garbled(text: str) -> list[str]:
    return [why for rx, why in EMPTY if rx.search(text)]


def _change(value: float, z: float) -> FindingSet:
    f = Finding(id="price.change_1d_pct", value=value, unit="%", as_of=T, window="1d:2019-10-19",
                detail={"date": "2019-10-19"}, unusual={"zscore": z, "percentile": 50.5, "n": 365, "window_days": 365})
    return FindingSet(T, [f])


def test_a_flat_day_is_called_flat_not_a_rise_of_0_percent():
    # 2019-10-19 (found by the sweep): "Bitcoin rose 0.0% ..., a -0.0σ day".
    text = _text(price.highlights(_change(0.03, -0.02))[0].paragraph)
    assert text.startswith("Bitcoin closed flat on October 19, 2019 (+0.03%), a 0.0σ day")
    assert _garbled(text) == []
    down = _text(price.highlights(_change(-0.049, -0.04))[0].paragraph)
    assert "closed flat" in down and "(-0.05%)" in down
    # A real move still reads as one.
    assert _text(price.highlights(_change(-3.2, -1.4))[0].paragraph).startswith("Bitcoin fell 3.2% on October 19")


def test_a_z_score_that_rounds_to_zero_has_no_sign_and_the_linter_catches_one_that_does():
    assert fmt.sigma(-0.04) == "0.0σ" and fmt.sigma(0.04) == "0.0σ" and fmt.sigma(-0.05) == "-0.1σ"
    assert fmt.sigma(1.26) == "+1.3σ"
    assert _garbled("a -0.0σ day against the past year") == ["a signed zero z-score"]
    assert _garbled("a -0.1σ day") == []


def _brief(as_of: dt.datetime, finding: Finding, text: str):
    from btcstress.brief.model import Brief, Paragraph, Ref
    return Brief(title="t", as_of=as_of, headline=Paragraph.of("Bitcoin is quiet."),
                 highlights=[Paragraph.of(text, Ref(text="$88,376", finding=finding), ".")],
                 sections=[], datasets=[], findings=[finding])


def test_the_day_a_brief_describes_is_the_last_day_published_by_then():
    from types import SimpleNamespace

    from btcstress.brief.lint import day_of
    at = lambda *a: SimpleNamespace(as_of=dt.datetime(*a, tzinfo=dt.timezone.utc))  # noqa: E731
    assert day_of(at(2026, 2, 6, 7)) == dt.date(2026, 2, 5)  # --date 2026-02-05
    assert day_of(at(2026, 2, 6, 8)) == dt.date(2026, 2, 5)  # the story's brief
    assert day_of(at(2026, 2, 6, 6, 59)) == dt.date(2026, 2, 4)  # 02-05's rows are not out yet
    assert day_of(at(2026, 2, 5, 1)) == dt.date(2026, 2, 3)


def test_a_value_from_the_last_published_day_is_not_stale_intraday():
    # 2026-02-05T01:00Z (found by the hourly sweep): 02-04's CryptoQuant rows come out at 07:00, so a
    # value from 02-03 is the freshest there is; one from 02-01 is stale and needs its date.
    from btcstress.brief.lint import stale_value
    t = dt.datetime(2026, 2, 5, 1, tzinfo=dt.timezone.utc)
    cost = lambda day: Finding(id="miners.production_cost_usd", value=88_376.0, unit="USD", as_of=t,  # noqa: E731
                               window=f"1d:{day}")
    assert stale_value(_brief(t, cost("2026-02-03"), "The modelled all-in cost is ")) == []
    [f] = stale_value(_brief(t, cost("2026-02-01"), "The modelled all-in cost is "))
    assert f.rule == "stale_value" and "2 days before 2026-02-03" in f.reason
    assert stale_value(_brief(t, cost("2026-02-01"), "On February 1 the modelled all-in cost was ")) == []


def test_a_fear_and_greed_reading_from_before_a_gap_says_its_day():
    # 2018-04-16T07:00Z (found by the sweep): the index has no 04-14..04-16 rows; the latest, 04-13's,
    # was printed as if current. The market paragraph now names its day, and the linter passes it.
    from btcstress.brief.lint import stale_value
    from btcstress.brief.sections import market
    t = dt.datetime(2018, 4, 16, 7, tzinfo=dt.timezone.utc)
    fng = Finding(id="market.fear_greed", value=23.0, unit="index", as_of=t, window="1d:2018-04-13",
                  detail={"date": "2018-04-13", "label": "Extreme Fear"})
    section = market.build(FindingSet(t, [fng]))
    text = _text(section.paragraphs[0])
    assert "(Extreme Fear) on April 13, 2018, the latest reading." in text
    from btcstress.brief.model import Brief, Paragraph
    b = Brief(title="t", as_of=t, headline=Paragraph.of("x"), highlights=[], sections=[section], datasets=[],
              findings=[fng])
    assert stale_value(b) == []
    # The day before as-of's day is the latest there can be at 07:00: no date added.
    fresh = fng.model_copy(update={"window": "1d:2018-04-15", "detail": {"date": "2018-04-15", "label": "Fear"}})
    assert "latest reading" not in _text(market.build(FindingSet(t, [fresh])).paragraphs[0])


def test_lowest_since_is_news_from_the_day_the_brief_describes_as_the_linter_counts():
    # 2018-05-18T07:00Z (found by the sweep): the writer counted 30 days from the as-of's own date
    # (May 18) to "the lowest since April 18", the linter 29 from the day described (May 17).
    from btcstress.brief.lint import MIN_LOWEST_SINCE_DAYS, day_of

    def since(as_of: dt.datetime, date: str) -> FindingSet:
        return FindingSet(as_of, [Finding(id="price.lowest_since_date", value=date, unit="date", as_of=as_of,
                                          window="24h")])

    at = dt.datetime(2018, 5, 18, 7, tzinfo=dt.timezone.utc)
    day = day_of(since(at, "2018-04-18"))  # FindingSet has as_of, as a Brief does
    assert day == dt.date(2018, 5, 17) and MIN_LOWEST_SINCE_DAYS == 30
    assert price.lowest_since(since(at, "2018-04-18")) is None  # 29 days before May 17: not news
    assert price.lowest_since(since(at, "2018-04-17")).value == "2018-04-17"  # 30 days: news
    # Intraday, before that day's daily rows are out (06:00 on May 19 still describes May 17).
    early = dt.datetime(2018, 5, 19, 6, tzinfo=dt.timezone.utc)
    assert price.lowest_since(since(early, "2018-04-18")) is None


def test_a_force_whose_values_are_all_flagged_is_not_ranked_and_not_called_not_available():
    # 2019-02-20T07:00Z (found by the sweep): BTC short liquidations on 2019-02-19 are flagged
    # (liquidation_spike_on_quiet_day), so Leverage did not rank, and "Why it fell" called it "not
    # available" while the leverage section printed the (flagged) total.
    from btcstress.brief import why
    from btcstress.brief.lint import lint
    from btcstress.brief.model import Brief, Paragraph, Ref, Section
    at = dt.datetime(2019, 2, 20, 7, tzinfo=dt.timezone.utc)
    window = "1d:2019-02-19"
    liq = Finding(id="liquidations.total_usd", subject="BTC+ETH", value=2_481_540.0, unit="USD", as_of=at,
                  window=window, detail={"suspect": "BTC/short_usd on 2019-02-19 (liquidation_spike_on_quiet_day)"})
    cap = Finding(id="market.total_cap_change_usd", subject="crypto", value=7.341e8, unit="USD", as_of=at,
                  window=window, detail={"date": "2019-02-19"},
                  unusual={"zscore": 0.1, "percentile": 55.0, "n": 365, "window_days": 365})
    fs = FindingSet(at, [liq, cap])
    sec = why.section(fs)
    text = _text(sec.paragraphs[0])
    assert "flagged as suspect by the data-quality checks (`btcstress quality`): Leverage." in text
    missing = re.search(r"Not available on this date: ([^.]*)\.", text)
    assert missing and missing.group(1) == "Miners, ETF flows, Corporate treasuries"  # no findings given
    row = next(r for r in sec.tables[0].rows if r[1] == "Leverage")
    assert row[2:] == ["flagged as suspect (data-quality checks)", "not ranked", "not ranked"]
    leverage = Section(id="leverage", title="Leverage and liquidations",
                       paragraphs=[Paragraph.of("Liquidated: ", Ref(text="$2,481,540", finding=liq), ".")])
    brief = Brief(title="t", as_of=at, headline=Paragraph.of("Bitcoin is quiet."), highlights=[],
                  sections=[sec, leverage], datasets=[], findings=[liq, cap])
    assert [f for f in lint(brief) if f.rule == "contradiction"] == []
    # Unflagged and unscored, the same value is "reported but with too little history to rank".
    plain = liq.model_copy(update={"detail": {}})
    assert "too little history to rank: leverage" in _text(why.section(FindingSet(at, [plain, cap])).paragraphs[0])


def test_normal_range_goes_by_where_a_number_stands_not_by_its_text():
    # 2020-01-23T07:00Z (found by the sweep): open interest "$1.34B" (98th percentile) stood before
    # "Within their normal range", market value "-$1.34B" after it; the linter found "$1.34B" in the
    # tail by text and failed the brief.
    from btcstress.brief.lint import normal_range
    from btcstress.brief.model import Brief, Paragraph, Ref, Section
    at = dt.datetime(2020, 1, 23, 7, tzinfo=dt.timezone.utc)
    oi = Finding(id="derivatives.open_interest_usd", subject="BTC", value=1.34e9, unit="USD", as_of=at,
                 window="1d:2020-01-22", unusual={"zscore": 1.7, "percentile": 98.0})
    cap = Finding(id="market.total_cap_change_usd", subject="crypto", value=-1.34e9, unit="USD", as_of=at,
                  window="1d:2020-01-22", unusual={"zscore": -0.2, "percentile": 40.0})

    def brief(*parts) -> Brief:
        return Brief(title="t", as_of=at, headline=Paragraph.of("Bitcoin is quiet."), highlights=[],
                     sections=[Section(id="why", title="What moved", paragraphs=[Paragraph(parts=list(parts))])],
                     datasets=[], findings=[oi, cap])

    ok = brief("In the outer 5%: open interest at ", Ref(text="$1.34B", finding=oi),
               ". Within their normal range: market-wide selling — ", Ref(text="-$1.34B", finding=cap), ".")
    assert normal_range(ok) == []
    bad = brief("Within their normal range: open interest at ", Ref(text="$1.34B", finding=oi), ".")
    assert [f.reason for f in normal_range(bad)] == ["derivatives.open_interest_usd at percentile 98.0 called normal"]


def test_a_force_with_a_key_finding_in_the_outer_5_percent_states_that_one_not_as_normal():
    # 2025-07-20T07:00Z (found by the sweep): miners ranked by outflow (+1.5σ, 80th percentile) were
    # listed "within their normal range" with "2,784 BTC of it to exchanges" at the 4.4th percentile.
    from btcstress.brief import why
    from btcstress.brief.lint import normal_range
    from btcstress.brief.model import Brief, Paragraph
    at = dt.datetime(2025, 7, 20, 7, tzinfo=dt.timezone.utc)
    w, d = "1d:2025-07-19", {"date": "2025-07-19"}
    out = Finding(id="miners.outflow_btc_1d", value=9_000.0, unit="BTC", as_of=at, window=w, detail=d,
                  unusual={"zscore": 1.5, "percentile": 80.0})
    toex = Finding(id="miners.to_exchange_btc_1d", value=2_784.0, unit="BTC", as_of=at, window=w, detail=d,
                   unusual={"zscore": -1.3, "percentile": 4.4})
    cap = Finding(id="market.total_cap_change_usd", subject="crypto", value=1.17e10, unit="USD", as_of=at,
                  window=w, detail=d, unusual={"zscore": 0.1, "percentile": 55.0})
    sec = why.section(FindingSet(at, [out, toex, cap]))
    text = _text(sec.paragraphs[0])
    outer, normal = text.split("Within their normal range")
    assert "miners — 2,784 BTC sent by miners to exchanges on July 19, 2025 (-1.3σ, bottom 4.4%" in outer
    assert "miners" not in normal
    brief = Brief(title="t", as_of=at, headline=Paragraph.of("Bitcoin is quiet."), highlights=[],
                  sections=[sec], datasets=[], findings=[out, toex, cap])
    assert normal_range(brief) == []
    assert [f.name for f in why.forces(FindingSet(at, [out, toex, cap]))][0] == "Miners"  # still ranked by 1.5σ


def _stress(as_of: dt.datetime, since: str, index: float = 2.4) -> FindingSet:
    """A stress index for the day before `as_of` and its 'highest since' finding, as the stress area writes them."""
    day = (as_of - dt.timedelta(days=1)).date().isoformat()
    idx = Finding(id="stress.index", value=index, unit="z", as_of=as_of, window=f"1d:{day}",
                  detail={"n_components": 3, "contributions": {}})
    hs = Finding(id="stress.index_highest_since", value=since, unit="date", as_of=as_of, window="since:2018-01-01",
                 detail={"percentile": 82.7, "days": 491, "from": "2018-01-01", "highest_on_record": False})
    return FindingSet(as_of, [idx, hs])


def test_the_stress_index_is_the_highest_since_a_day_only_when_that_day_is_news():
    # 2019-05-07 as `report` writes it (found by the snapshot work): "the highest since April 28, 2019",
    # 9 days before. A short run of high days is stated by its rank instead; a long one by its date.
    from btcstress.brief.lint import lowest_since_span
    from btcstress.brief.model import Brief
    from btcstress.brief.sections import stress
    at = dt.datetime(2019, 5, 8, 7, tzinfo=dt.timezone.utc)

    def brief(fs):
        sec = stress.build(fs)
        return Brief(title="t", as_of=at, headline=Paragraph.of("x"), sections=[sec], datasets=[], findings=list(fs),
                     highlights=[h.paragraph for h in stress.highlights(fs)])

    from btcstress.brief.model import Paragraph
    short = brief(_stress(at, "2019-04-28"))
    texts = [_text(p) for p in short.highlights + short.sections[0].paragraphs]
    assert not any("highest since" in t for t in texts), texts
    assert "stands at +2.4 for May 7, 2019, from 3 of 6 forces: in the top 17.3% of 491 days." in texts[1]
    assert texts[0].endswith("(robust, each force against its own year): in the top 17.3% of days since 2018.")
    assert lowest_since_span(short) == []
    # 30 days back and more is news: said, and the linter accepts it.
    long_ = brief(_stress(at, "2019-04-07"))
    texts = [_text(p) for p in long_.highlights + long_.sections[0].paragraphs]
    assert "the highest since April 7, 2019 (top 17.3% of 491 days)" in texts[1]
    assert "the highest since April 7, 2019: top 17.3% of days since 2018." in texts[0]
    assert lowest_since_span(long_) == []


def test_the_stress_index_highest_on_record_has_no_top_0_percent_and_a_rare_rank_keeps_its_digits():
    # 2020-03-12 as `report` writes it: "the highest of every day since January 1, 2018 (top 0.0% of 801 days)".
    from btcstress.brief.sections import stress
    at = dt.datetime(2020, 3, 13, 7, tzinfo=dt.timezone.utc)
    fs = _stress(at, "2018-01-01", index=6.1)
    fs.get("stress.index_highest_since").detail.update(percentile=100.0, days=801, highest_on_record=True)
    texts = [_text(p) for p in [h.paragraph for h in stress.highlights(fs)] + stress.build(fs).paragraphs]
    assert "from 3 of 6 forces: the highest of all 801 days since January 1, 2018." in texts[1]
    assert "the highest of every day since January 1, 2018." in texts[0]
    assert all(_garbled(t) == [] for t in texts), [_garbled(t) for t in texts]
    # 1 day above it in 2,500: 0.04%, not "top 0.0%".
    fs = _stress(at, "2019-06-26", index=5.0)
    fs.get("stress.index_highest_since").detail.update(percentile=100 - 100 / 2500, days=2500)
    texts = [_text(p) for p in [h.paragraph for h in stress.highlights(fs)] + stress.build(fs).paragraphs]
    assert "(top 0.04% of 2,500 days)" in texts[1] and "top 0.04% of days since 2018." in texts[0]
    assert all(_garbled(t) == [] for t in texts)


def test_the_stress_index_is_not_ranked_on_a_base_shorter_than_the_minimum_history():
    # 2018-01-02 as `report` writes it: "in the top 100.0% of 1 days".
    from btcstress.brief.sections import stress
    from btcstress.metrics.stats import MIN_HISTORY
    at = dt.datetime(2018, 1, 3, 7, tzinfo=dt.timezone.utc)
    for days in (1, MIN_HISTORY - 1):
        fs = _stress(at, "2018-01-01", index=2.5)
        fs.get("stress.index_highest_since").detail.update(percentile=100.0, days=days, highest_on_record=True)
        lead = _text(stress.build(fs).paragraphs[0])
        assert lead.startswith("The stress index stands at +2.5 for January 2, 2018, from 3 of 6 forces. "), lead
        assert "since" not in lead and "top" not in lead and stress.highlights(fs) == []


def test_a_low_stress_index_is_ranked_from_the_bottom_not_as_top_100_percent():
    # 2019-04-02 as `report` writes it: "in the top 100.0% of 456 days" (the index at -2.3, the highest
    # only since the day before).
    from btcstress.brief.sections import stress
    at = dt.datetime(2019, 4, 3, 7, tzinfo=dt.timezone.utc)
    for pct, said in ((0.44, "from 3 of 6 forces: in the bottom 0.4% of 456 days."),
                      (0.0, "from 3 of 6 forces: the lowest of all 456 days."),
                      (50.0, "from 3 of 6 forces: in the top 50.0% of 456 days.")):
        fs = _stress(at, "2019-04-01", index=-2.3)
        fs.get("stress.index_highest_since").detail.update(percentile=pct, days=456)
        lead = _text(stress.build(fs).paragraphs[0])
        assert said in lead, lead
        assert _garbled(lead) == []


def _section_brief(t: dt.datetime, section, findings):
    from btcstress.brief.model import Brief, Paragraph
    return Brief(title="t", as_of=t, headline=Paragraph.of("x"), highlights=[], sections=[section], datasets=[],
                 findings=findings)


def test_a_value_older_than_the_brief_s_day_is_dated_and_a_fresh_one_is_not():
    # The rule the sections use to date a value (fmt.older_day) is the linter's day: the last one published.
    t = dt.datetime(2026, 4, 13, 8, tzinfo=dt.timezone.utc)  # describes 2026-04-12
    f = lambda day: Finding(id="miners.hash_ribbon", value="capitulation", unit="", as_of=t,  # noqa: E731
                            window=f"60d:{day}", detail={"day": day})
    assert fmt.older_day(f("2026-04-12"), t) == ""
    assert fmt.older_day(f("2026-04-10"), t) == "April 10, 2026"
    assert fmt.older_day(None, t) == ""


def test_bitcoin_s_market_value_from_before_the_total_s_day_is_no_share_of_it_and_says_its_day():
    # 2026-04-13T07Z .. 2026-06-01 (found by the hourly sweep as written): CryptoQuant's daily rows end on
    # 04-10, the TradingView indices on 04-19; "Bitcoin accounted for $1.46T of it" set 04-10's Bitcoin value
    # against 04-19's total, undated.
    from btcstress.brief.lint import stale_value
    from btcstress.brief.sections import market
    t = dt.datetime(2026, 5, 20, 13, tzinfo=dt.timezone.utc)
    day = lambda d: {"window": f"1d:{d}", "detail": {"date": d}}  # noqa: E731
    total = Finding(id="market.total_cap_usd", subject="crypto", value=2.53e12, unit="USD", as_of=t,
                    **day("2026-04-19"))
    dom = Finding(id="market.btc_dominance_pct", value=59.9, unit="pct", as_of=t, **day("2026-04-19"))
    btc = Finding(id="market.btc_cap_usd", value=1.46e12, unit="USD", as_of=t, **day("2026-04-10"))
    section = market.build(FindingSet(t, [total, dom, btc]))
    text = _text(section.paragraphs[0])
    assert "accounted for" not in text
    assert ("Bitcoin's dominance was 59.9%; its own market value was $1.46T on April 10, 2026, the latest day "
            "of its data.") in text
    assert stale_value(_section_brief(t, section, [total, dom, btc])) == []
    # Dominance from yet another old day says its own.
    dom_old = dom.model_copy(update=day("2026-04-12"))
    old_dom = market.build(FindingSet(t, [total, dom_old, btc])).paragraphs[0]
    assert "dominance was 59.9% on April 12, 2026;" in _text(old_dom)
    # All from the brief's day: Bitcoin's value is a share of the total, as before.
    fresh = [x.model_copy(update=day("2026-05-19")) for x in (total, dom, btc)]
    assert "Bitcoin accounted for $1.46T of it, a dominance of 59.9%." in _text(
        market.build(FindingSet(t, fresh)).paragraphs[0])


def test_past_the_end_of_the_daily_closes_the_headline_is_the_latest_intraday_price():
    # `btcstress report` on the demo store (as of its last hourly bar, weeks past the composite's last
    # close) headlined "A quiet day: Bitcoin little changed at $73,459 on April 11".
    from btcstress.brief.lint import stale_value, trivial_headline
    from btcstress.brief.model import Brief
    from btcstress.brief.sections import headline
    t = dt.datetime(2026, 5, 20, 13, tzinfo=dt.timezone.utc)  # describes 2026-05-19
    daily = {"window": "1d:2026-04-11", "detail": {"date": "2026-04-11"}}
    close = Finding(id="price.close_usd", value=73_458.8, unit="USD", as_of=t, **daily)
    change = Finding(id="price.change_1d_pct", value=0.66, unit="pct", as_of=t, **daily)
    last = Finding(id="price.last_usd", value=77_590.2, unit="USD", as_of=t, window="24h",
                   detail={"bar_close": "2026-05-20T13:00Z"})
    move = lambda v, w="24h": Finding(id="price.change_24h_pct", value=v, unit="pct", as_of=t, window=w)  # noqa: E731
    quiet = headline.headline(FindingSet(t, [close, change, last, move(0.9)]))
    assert _text(quiet) == ("A quiet day: Bitcoin little changed at $77,590 at 13:00 UTC on May 20, +0.9% over "
                            "24 hours (the daily closes end on April 11, 2026)")
    brief = Brief(title="t", as_of=t, headline=quiet, highlights=[], sections=[], datasets=[],
                  findings=[close, change, last, move(0.9)])
    assert stale_value(brief) == [] and trivial_headline(brief) == []
    assert _text(headline.headline(FindingSet(t, [close, change, last, move(-3.2)]))) == (
        "Bitcoin falls 3% over 24 hours to $77,590 at 13:00 UTC on May 20 (the daily closes end on April 11, 2026)")
    # A current close is the headline as before; so is a stale one with no intraday move to say instead.
    fresh = [f.model_copy(update={"window": "1d:2026-05-19", "detail": {"date": "2026-05-19"}})
             for f in (close, change)]
    assert _text(headline.headline(FindingSet(t, [*fresh, last, move(0.9)]))).startswith(
        "A quiet day: Bitcoin little changed at $73,459 on May 19")
    assert _text(headline.headline(FindingSet(t, [close, change, last, move(0.9, "1d:2026-04-11")]))).startswith(
        "A quiet day: Bitcoin little changed at $73,459 on April 11")
