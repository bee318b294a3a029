"""The MCP server end to end: the SDK's own client launches `btcstress mcp` over stdio, lists the
tools, and gets the crash-moment findings, a brief and claim verdicts through them. Expected values
are derived here from the raw Binance CSV rows, not from a run."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import sys

import pytest

from tests.conftest import CRASH, SNAPSHOT

import mcp  # noqa: E402  a runtime dependency (pyproject.toml): missing is a failure, never a skip

HOUR_US = 3_600_000_000


def _crash_bars() -> list[dict]:
    """Binance BTCUSDT spot 1h bars that closed in (T-24h, T] at the crash moment T, from the raw CSV."""
    t_us = int(CRASH.timestamp() * 1_000_000)
    with open(SNAPSHOT / "price" / "binance_spot_btcusdt_1h_2026-01_2026-02.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    return [r for r in rows if t_us - 24 * HOUR_US < int(r["open_time_us"]) + HOUR_US <= t_us]


async def _session(db, calls):
    from mcp import Client, StdioServerParameters
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-c", "from btcstress.cli import app; app()", "--db", str(db), "mcp"],
                                   env=env)
    async with Client(params, read_timeout_seconds=300) as client:
        tools = await client.list_tools()
        out = {"tools": {t.name: t for t in tools.tools}}
        for name, (tool, args) in calls.items():
            out[name] = await client.call_tool(tool, args)
        return out


@pytest.mark.slow
def test_mcp_session_over_stdio(snapshot_db):
    bars = _crash_bars()
    assert len(bars) == 24
    low = min(float(r["low"]) for r in bars)
    last_close = float(max(bars, key=lambda r: int(r["open_time_us"]))["close"])
    claims = [
        {"claim_id": "ok", "finding_id": "price.low_24h_usd", "subject": "BTC", "comparator": "approx",
         "value": low, "unit": "USD", "as_of": "2026-02-06T08:00Z", "window": "24h", "quote": "fell to the low"},
        {"claim_id": "wrong", "finding_id": "price.low_24h_usd", "subject": "BTC", "comparator": "approx",
         "value": low * 1.5, "unit": "USD", "as_of": "2026-02-06T08:00Z", "window": "24h", "quote": "a made-up low"},
    ]
    res = asyncio.run(_session(snapshot_db, {
        "findings": ("findings", {"as_of": "2026-02-06T08:00Z", "ids": "price.low_24h_usd,price.last_usd"}),
        "brief": ("brief", {"as_of": "2026-02-06T08:00Z"}),
        "check": ("check", {"claims": claims, "as_of": "2026-02-06T08:00Z"}),
        "bad_time": ("findings", {"as_of": "yesterday-ish"}),
        "typo": ("findings", {"as_of": "2026-02-06T08:00Z", "ids": "price.low_24h_uds"}),
        "bad_scenario": ("scenario", {"price": 50000, "shock": "-10%"}),
        "explain": ("explain", {"id": "price.low_24h_usd", "as_of": "2026-02-06T08:00Z"}),
        "after_errors": ("ids", {}),
        "history": ("history", {"id": "price.close_usd", "subject": "BTC", "from": "2026-02-01", "to": "2026-02-05"}),
        "stress": ("stress", {"as_of": "2026-02-06T08:00Z"}),
        "episodes": ("episodes", {"as_of": "2026-02-06T08:00Z", "top": 2}),
        "bad_top": ("episodes", {"as_of": "2026-02-06T08:00Z", "top": 0}),
    }))
    assert {"findings", "history", "brief", "check", "scenario", "explain", "ids", "params", "stress",
            "episodes"} <= set(res["tools"])
    assert all(t.annotations and t.annotations.read_only_hint for t in res["tools"].values())

    f = res["findings"]
    assert not f.is_error
    body = f.structured_content
    assert body["as_of"] == "2026-02-06T08:00:00Z" and body["as_of_basis"] == "given"
    got = {x["id"]: x for x in body["findings"]}
    assert got["price.low_24h_usd"]["value"] == pytest.approx(low)
    assert got["price.last_usd"]["value"] == pytest.approx(last_close)
    src = got["price.low_24h_usd"]["sources"][0]  # provenance: the rows behind the number
    assert src["table"] == "candles" and src["rows"] == 24 and "binance_spot_btcusdt_1h" in src["origin"]

    text = res["brief"].content[0].text
    assert not res["brief"].is_error
    assert "as of 2026-02-06T08:00:00Z" in text and text.count("\n#") >= 3
    assert f"{low:,.0f}" in text  # the crash low, as the brief writes dollars

    verdicts = {v["claim_id"]: v for v in res["check"].structured_content["verdicts"]}
    assert verdicts["ok"]["verdict"] == "supported"
    assert verdicts["wrong"]["verdict"] == "contradicted"
    assert verdicts["ok"]["finding"]["id"] == "price.low_24h_usd"

    for bad, words in (("bad_time", "not a timestamp"), ("typo", "did you mean price.low_24h_usd"),
                       ("bad_scenario", "exactly one of")):
        assert res[bad].is_error and words in res[bad].content[0].text, res[bad].content[0].text
    assert "Sources:" in res["explain"].structured_content["explanations"][0]["text"]
    # history: the daily close of each UTC day, as of that day's end, from the raw CryptoQuant rows
    with open(SNAPSHOT / "price" / "cryptoquant_btc_usd_ohlcv_daily.csv", newline="") as fh:
        closes = {r["date"]: float(r["Close"]) for r in csv.DictReader(fh) if "2026-01-31" <= r["date"] <= "2026-02-05"}
    h = res["history"]
    assert not h.is_error, h.content[0].text
    got = {r["window"].removeprefix("1d:"): r["value"] for r in h.structured_content["rows"]}
    assert got and all(got[d] == pytest.approx(closes[d]) for d in got)
    assert "2026-02-04" in got and h.structured_content["sources_at_last_row"]
    # the server survived the bad calls and still answers
    assert not res["after_errors"].is_error
    assert any(r["id"] == "price.low_24h_usd" for r in res["after_errors"].structured_content["ids"])

    # stress and episodes: the same findings the metric code gives in this process, with provenance
    from btcstress import metrics
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as store:
        fs = metrics.compute(store, CRASH)
    st = {(x["id"], x["subject"]): x for x in res["stress"].structured_content["findings"]}
    index = fs.get("stress.index")
    assert st[("stress.index", index.subject)]["value"] == pytest.approx(index.value)
    assert st[("stress.index", index.subject)]["sources"]
    assert not any(i.startswith("stress.episode") for i, _ in st)
    eps = [x for x in res["episodes"].structured_content["findings"] if x["id"] == "stress.episode"]
    assert len(eps) == 2 and all(x["as_of"] == "2026-02-06T08:00:00Z" for x in eps)
    assert res["bad_top"].is_error
