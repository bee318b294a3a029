"""The dashboard in a real browser: Debian's chromium driven by Playwright against the real server on a
loopback port. Set the as-of to the crash, read the price card, move the scenario slider to $55k, check
the scenario cards change, and save a screenshot.

The screenshot goes to the test's tmp folder; with BTCSTRESS_UPDATE_SCREENSHOT=1 it also replaces
docs/img/dashboard-2026-02-06.png (the committed one)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BTCSTRESS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DOC_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard-2026-02-06.png"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
        pytest.skip(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    from playwright import sync_api  # a declared dev dependency: missing means a broken install, a failure
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_dashboard_at_the_crash_with_a_55k_scenario(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors, remote = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: remote.append(r.url) if not r.url.startswith((live_server, "data:", "about:")) else None)
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-state=ready]", timeout=90_000)

    # set the as-of to the crash morning through the datetime control
    page.fill("#asof", "2026-02-06T08:00")
    page.dispatch_event("#asof", "change")
    page.wait_for_selector("body[data-as-of='2026-02-06T08:00:00Z'][data-state=ready]", timeout=90_000)
    assert page.input_value("#asof") == "2026-02-06T08:00"
    assert page.inner_text("#card-price .main") == "$64,856"
    assert page.inner_text("#card-price dl").count("$60,000") == 1  # the 24 h low
    # 02-05 is preliminary at 08:00Z: IBIT reports later (docs/DATA.md, publication times)
    assert page.inner_text("#card-etf .main") == "-$258.8M"
    # The miners card: the model's definitions, then the published estimates known by then, labelled cited.
    miners_card = page.inner_text("#card-miners dl")
    assert "Cash cost / BTC" in miners_card and "CryptoQuant 2026-02-05 (all-in, cited)" in miners_card
    assert "$87,000" in miners_card and "JPMorgan 2026-02-12" not in miners_card
    strategy = "[data-scenario='treasury.unrealized_pnl_usd|Strategy'] .v"
    assert page.inner_text(strategy) == "-$7.99B"  # observed, before any scenario

    # provenance on hover: method and sources of the finding
    # (on the grid the card's value is read from finding_history; hovering derives its source rows)
    assert "price" in page.get_attribute("body", "data-served").split(",")
    page.hover("#card-price .main [data-f]")
    page.wait_for_function("document.querySelector('#tip').innerText.includes('derived (computed now)')",
                           timeout=90_000)
    tip = page.inner_text("#tip")
    assert "price.last_usd" in tip and "finding_history" in tip
    assert "candles" in tip and "binance" in tip.lower()

    # move the scenario slider to $55k
    page.eval_on_selector("#scenario-slider", """el => { el.value = 55000;
        el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }""")
    page.wait_for_selector("body[data-scenario=ready]", timeout=90_000)
    assert page.inner_text("#scenario-price") == "$55,000"
    assert page.inner_text(strategy) == "-$15.0B"
    assert page.locator(".scard.hyp").count() >= 6
    assert page.inner_text("[data-scenario='miners.margin_pct'] .v") != "-60.3%"

    # the brief (with its charts) is on the page, and the charts were drawn
    page.wait_for_function("document.querySelector('#brief').contentDocument.querySelectorAll('.js-plotly-plot').length > 2",
                           timeout=60_000)
    page.wait_for_selector("body[data-charts=ready]", timeout=30_000)
    assert page.locator("#main-chart .main-svg").count() >= 1, page.inner_html("#main-chart")[:500]
    assert page.locator("#card-price svg.spark path").count() == 2
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    shot = tmp_path / "dashboard-2026-02-06.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size < 1_500_000
    if os.environ.get("BTCSTRESS_UPDATE_SCREENSHOT"):
        DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOC_SHOT)
    assert not errors, errors
    assert not remote, f"the page fetched from elsewhere: {remote[:5]}"
    page.close()


def test_the_stress_card_comes_first_and_opens_the_index_history(browser, live_server):
    import httpx
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-state=ready]", timeout=90_000)
    page.fill("#asof", "2026-02-06T08:00")
    page.dispatch_event("#asof", "change")
    page.wait_for_selector("body[data-as-of='2026-02-06T08:00:00Z'][data-state=ready]", timeout=90_000)
    served = {f["id"]: f for f in httpx.get(live_server + "/stress?as_of=2026-02-06T08:00Z", timeout=120).json()["findings"]}
    assert page.locator("#cards .card").first.get_attribute("id") == "card-stress"
    assert page.inner_text("#card-stress .main") == f"{served['stress.index']['value']:.1f}σ"
    assert f"{served['stress.component.price']['value']:.1f}σ" in page.inner_text("#card-stress dl")
    page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
    page.click("#card-stress .main-label")
    page.wait_for_function("document.querySelector('#chart-title').textContent.startsWith('Stress index')",
                           timeout=30_000)
    # the index line, today's marker and the episodes' markers
    page.wait_for_function("document.querySelectorAll('#main-chart .scatterlayer .trace').length >= 3", timeout=30_000)
    assert not errors, errors
    page.close()


def test_a_card_opens_its_findings_history_with_the_instant_marked(browser, live_server):
    import httpx
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/?as_of=2026-02-06T08:00Z")
    page.wait_for_selector("body[data-as-of='2026-02-06T08:00:00Z'][data-charts=ready]", timeout=120_000)
    page.click("#card-price .main-label")
    page.wait_for_selector("body[data-history=ready]", timeout=120_000)
    assert "price.last_usd" in page.text_content("#chart-title")  # the text as written (CSS upper-cases it)
    served = httpx.get(live_server + "/history", params={"id": "price.last_usd", "from": "2025-02-06T08:00Z",
                                                         "to": "2026-02-06T08:00Z", "every": "1d"}, timeout=120).json()
    plotted = page.evaluate("document.querySelector('#main-chart').data.map((t) => t.y)")
    assert plotted[0] == [r["value"] for r in served["rows"]]  # the history, point for point
    now = httpx.get(live_server + "/findings", params={"as_of": "2026-02-06T08:00Z", "ids": "price.last_usd"},
                    timeout=120).json()["findings"][0]["value"]
    assert len(plotted) == 2 and plotted[1] == [now]  # the instant, marked with the card's value
    assert not errors, errors
    page.close()


def test_jump_to_an_event_lands_when_that_day_is_published(browser, live_server):
    """'Jump to' the 2024 election: the page lands on the first instant at which 2024-11-05's daily rows
    are all published (the ETF flows' last fund, IBIT, from 18:00 UTC the next day), and the ETF card
    shows that day's flow, read here from the raw Farside row."""
    import csv

    import httpx

    from tests.conftest import SNAPSHOT
    with open(SNAPSHOT / "etf" / "farside_btc_etf_flows_daily.csv") as fh:
        total = float(next(r for r in csv.DictReader(fh) if r["date"] == "2024-11-05")["Total"])
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(live_server + "/")
    page.wait_for_selector("body[data-state=ready]", timeout=90_000)
    value = page.eval_on_selector(
        "#jump", "el => [...el.options].find(o => o.textContent.includes('2024 US presidential election')).value")
    assert value >= "2024-11-06T18:00:00Z"  # not 23:00Z of the event day: its rows are not out yet
    events = httpx.get(live_server + "/events", timeout=60).json()
    assert value == next(e for e in events if e["id"] == "us-election-2024")["instant"]  # the API's one rule
    page.select_option("#jump", value)
    page.wait_for_selector(f"body[data-as-of='{value}'][data-state=ready]", timeout=90_000)
    sign = "-" if total < 0 else ""
    assert page.inner_text("#card-etf .main") == f"{sign}${abs(total):.1f}M"
    page.close()
