"""The monitor: rules, replay of recorded liquidation streams, alerts to stdout / a file / a webhook
(a real HTTP server on 127.0.0.1), cooldowns, and recomputing only what changed."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from typer.testing import CliRunner

from btcstress.cli import app
from btcstress.connectors.streams import sniff_venue
from btcstress.monitor import FileSink, Monitor, StdoutSink, WebhookSink, load_rules
from btcstress.store import Store
from tests.connectors.conftest import LIVE, fixture_lines, http_server  # noqa: F401 (fixtures)

# The BTC liquidations of the three recorded live frames (2026-10-09 17:06 UTC): Binance 0.190 x 82,651.90,
# Bybit 0.006 x 82,396.9 + 0.038 x 82,394.3, OKX 8.55 contracts x 0.01 BTC x 82,655.7.
BTC_TOTAL = 0.190 * 82651.90 + 0.006 * 82396.9 + 0.038 * 82394.3 + 8.55 * 0.01 * 82655.7

RULES = """
- name: btc-liquidations-24h
  finding: liquidations.total_usd
  subject: BTC
  window: 24h
  op: ">"
  value: 20000
  cooldown: 15m
- name: never
  finding: liquidations.total_usd
  subject: BTC
  op: "<"
  value: 1
"""


@pytest.fixture()
def stream_file(tmp_path):
    lines = [l for rel in LIVE.values() for l in fixture_lines(rel)]
    p = tmp_path / "recorded.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture()
def rules_file(tmp_path):
    p = tmp_path / "rules.yaml"
    p.write_text(RULES)
    return p


def test_replay_prints_the_liquidation_alert_as_a_json_line(tmp_path, stream_file, rules_file):
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "m.duckdb"), "monitor", "--replay", str(stream_file),
                                 "--rules", str(rules_file), "--out", str(tmp_path / "alerts.jsonl")])
    assert r.exit_code == 0, r.output
    alerts = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(alerts) == 1
    a = alerts[0]
    assert (a["rule"], a["finding"], a["subject"], a["window"]) == ("btc-liquidations-24h", "liquidations.total_usd",
                                                                    "BTC", "24h")
    assert a["value"] == pytest.approx(BTC_TOTAL) and round(a["value"], 2) == 26396.29
    assert a["as_of"] == "2026-10-09T17:06:43.055000Z"  # the stream's clock: Binance's push time
    assert {s["origin"] for s in a["sources"]} == {"replay:recorded.jsonl"}
    assert json.loads((tmp_path / "alerts.jsonl").read_text()) == a


def test_webhook_on_a_loopback_server_receives_the_alert_after_a_500(tmp_path, stream_file, rules_file, http_server):
    srv, url = http_server([(500, {}, {"error": "busy"}), (200, {}, {"ok": True})])
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "m.duckdb"), "monitor", "--replay", str(stream_file),
                                 "--rules", str(rules_file), "--webhook", url + "/hook"])
    assert r.exit_code == 0, r.output
    posts = [s for s in srv.seen if s["method"] == "POST"]
    assert len(posts) == 2 and posts[0]["path"] == "/hook"
    got = json.loads(posts[1]["body"])
    assert got["rule"] == "btc-liquidations-24h" and got["value"] == pytest.approx(BTC_TOTAL)
    assert posts[1]["headers"]["Content-Type"] == "application/json"


def test_a_webhook_that_stays_down_does_not_stop_the_monitor(tmp_path, http_server):
    srv, url = http_server([(503, {}, {})])
    logs = []
    hook = WebhookSink(url, tmp_path / "dead.jsonl", attempts=2, backoff=0.01, log=logs.append)
    hook.emit({"rule": "x"})  # returns at once: delivery runs on the worker thread
    stats = hook.close()
    assert (stats.delivered, stats.dead_lettered) == (0, 1) and len(srv.seen) == 2
    dead = json.loads((tmp_path / "dead.jsonl").read_text())
    assert dead["alert"] == {"rule": "x"} and dead["attempts"] == 2 and "503" in dead["error"]
    assert any("not delivered" in m for m in logs)


def _monitor(tmp_path, rules_file, sinks, **kw):
    store = Store(tmp_path / "m.duckdb")
    return store, Monitor(store, load_rules(rules_file), sinks, clock="stream", **kw)


def test_cooldown_holds_a_rule_quiet_on_the_streams_clock(tmp_path, rules_file):
    out = []

    class Keep:
        def emit(self, a):
            out.append(a)

    store, m = _monitor(tmp_path, rules_file, [Keep()], batch_messages=1, recompute_ms=0)
    frames = [l for rel in LIVE.values() for l in fixture_lines(rel)]
    for i, raw in enumerate(frames):
        m.message(sniff_venue(raw), raw, origin="t", line=i + 1)
    m.flush()
    store.close()
    # the total crosses 20,000 once the third venue arrives; later batches are within the 15 min cooldown
    assert len(out) == 1 and m.stats.recomputes >= 3


def test_only_the_areas_a_liquidation_changes_and_a_rule_reads_are_recomputed(tmp_path, stream_file):
    rules = tmp_path / "r.yaml"
    rules.write_text("- {name: px, finding: price.last_usd, op: '<', value: 1}\n"
                     "- {name: liq, finding: liquidations.count, subject: BTC, window: '24h', op: '>=', value: 3}\n")
    store, m = _monitor(tmp_path, rules, [])
    called = []
    orig = m.recompute
    m.recompute = lambda areas: (called.append(list(areas)), orig(areas))
    m.replay([stream_file])
    store.close()
    assert called == [["leverage"]] and m.stats.alerts == 1


def test_bad_rules_are_refused_with_exit_code_2(tmp_path, stream_file):
    bad = tmp_path / "bad.yaml"
    for text, msg in (("- {name: a, finding: liquidations.total_usd, op: '=', value: 1}", "op"),
                      ("- {name: a, finding: nosuch.thing, op: '>', value: 1}", "no metric area"),
                      ("- {name: a, finding: price.last_usd, op: '>', value: 1, cooldown: soon}", "cooldown"),
                      ("rules: 3", "expected a list")):
        bad.write_text(text)
        r = CliRunner().invoke(app, ["--db", str(tmp_path / "x.duckdb"), "monitor", "--replay", str(stream_file),
                                     "--rules", str(bad)])
        assert r.exit_code == 2 and msg in r.output, (text, r.output)


def test_replay_of_a_malformed_line_quarantines_it_and_keeps_the_rest(tmp_path, rules_file):
    frames = [l for rel in LIVE.values() for l in fixture_lines(rel)]
    p = tmp_path / "cut.jsonl"
    p.write_text("\n".join(frames[:1] + [frames[1][:40]] + frames[1:]) + "\n")
    store, m = _monitor(tmp_path, rules_file, [StdoutSink(open(tmp_path / "o", "w"))])
    m.replay([p])
    q = store.table("quarantine").execute()
    assert store.table("liquidations").count().execute() == 4
    assert set(q["line"]) == {2, 5} and any("not valid JSON" in r for r in q["reason"])  # line 5: CELO, no ctVal
    store.close()


def test_file_sink_appends_json_lines(tmp_path):
    s = FileSink(tmp_path / "a" / "alerts.jsonl")
    s.emit({"a": 1})
    s.emit({"a": 2})
    assert [json.loads(l)["a"] for l in (tmp_path / "a" / "alerts.jsonl").read_text().splitlines()] == [1, 2]


def test_live_clock_is_now(tmp_path, rules_file):
    store, m = _monitor(tmp_path, rules_file, [])
    m.clock = "wall"
    assert abs((m.as_of() - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5
    store.close()


def test_live_loop_records_raw_survives_a_drop_keeps_the_gap_and_alerts(tmp_path):
    """run_live against a websocket server on 127.0.0.1: two Binance frames (written from the documented
    forceOrder shape, timed now so the trailing 24 h sees them), the connection dropped between them."""
    import asyncio

    from websockets.asyncio.server import serve

    from btcstress.connectors.http import RetryPolicy
    from btcstress.connectors.streams import RawRecorder, read_lines, replay_files
    from btcstress.monitor import run_live

    now_ms = int(time.time() * 1000)

    def frame(t, q):
        return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t + 3, "o": {
            "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": q, "p": "90000", "ap": "90000",
            "X": "FILLED", "l": q, "z": q, "T": t}}})
    frames = [frame(now_ms - 5000, "0.5"), frame(now_ms - 4000, "0.7")]
    conns = []

    async def handler(ws):
        conns.append(ws)
        if len(conns) == 1:
            await ws.send(frames[0])
            await asyncio.sleep(0.05)
            ws.transport.abort()
            return
        await ws.send(frames[1])
        await ws.wait_closed()

    rules = [r for r in load_rules_text("- {name: two, finding: liquidations.count, subject: BTC, window: '24h', "
                                        "op: '>=', value: 2, cooldown: 1h}")]
    out = []

    class Keep:
        def emit(self, a):
            out.append(a)

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            with Store(tmp_path / "live.duckdb") as store:
                m = Monitor(store, rules, [Keep()], batch_messages=1, recompute_ms=0,
                            recorder=RawRecorder(tmp_path / "raw"))
                conf = {"binance": {"ws_stream_url": f"ws://127.0.0.1:{port}/ws/!forceOrder@arr"}}
                stop = asyncio.Event()

                async def until_alerted():  # stop on the outcome, not on a clock (the duration is a safety net)
                    while not out:
                        await asyncio.sleep(0.05)
                    stop.set()
                waiter = asyncio.create_task(until_alerted())
                await run_live(m, venues=["binance"], pulls=[], conf=conf, duration=120.0, stop=stop,
                               reconnect=RetryPolicy(attempts=10**6, backoff=0.05, max_backoff=0.1))
                waiter.cancel()
                return store.table("stream_gaps").count().execute(), store.table("liquidations").count().execute()

    gaps, events = asyncio.run(main())
    assert len(conns) == 2 and gaps == 1 and events == 2
    assert len(out) == 1 and out[0]["value"] == 2
    assert [l for f in replay_files(tmp_path / "raw") for l in read_lines(f)] == frames


def load_rules_text(text: str):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.yaml"
        p.write_text(text)
        return load_rules(p)
