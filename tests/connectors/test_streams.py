"""Liquidation streams: real recorded frames through the venue parsers, and a real websocket server on
127.0.0.1 that drops the connection mid-stream, repeats messages, sends a truncated one and checks
heartbeats. Hand-written frames follow the venues' documented shapes (Binance USD-M forceOrder) and
are marked as such; the others are the recorded live frames of ../shared/fixtures, read in place."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from websockets.asyncio.server import serve

from btcstress.connectors.http import RetryPolicy
from btcstress.connectors.streams import (EventBuffer, RawRecorder, StreamSpec, is_heartbeat, read_lines,
                                          replay_files, run_stream, sniff_venue)
from btcstress.monitor import Monitor
from btcstress.store import Store
from tests.connectors.conftest import LIVE, fixture_lines

FAST = RetryPolicy(attempts=10**6, backoff=0.01, max_backoff=0.05)


def test_each_venue_parser_reads_its_recorded_live_frame(tmp_path):
    buf = EventBuffer()
    for venue, rel in LIVE.items():
        for n, raw in enumerate(fixture_lines(rel), start=1):
            assert sniff_venue(raw) == venue
            buf.add(venue, raw, f"fixture:{rel}", n)
    rows = sorted(buf.rows.values(), key=lambda r: (r["venue"], r["ts"]))
    assert [(r["venue"], r["side"], round(r["usd"], 2)) for r in rows] == [
        ("binance-usdm", "long", 15703.86), ("bybit", "long", 494.38), ("bybit", "long", 3130.98),
        ("okx", "long", 7067.06)]
    # CELO-USDT-SWAP has no packaged contract value: refused, never guessed
    assert len(buf.quarantine) == 1 and "unknown contract value" in buf.quarantine[0]["reason"]
    with Store(tmp_path / "s.duckdb") as store:
        res = buf.flush(store)
        assert (res.new, res.quarantined) == (4, 1)


def _binance_frame(t_ms: int, qty: str, side: str = "SELL") -> str:
    """A !forceOrder@arr combined-stream frame written from Binance's documented shape (not a capture)."""
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t_ms + 5, "o": {
        "s": "BTCUSDT", "S": side, "o": "LIMIT", "f": "IOC", "q": qty, "p": "82000.0", "ap": "82100.0", "X": "FILLED",
        "l": qty, "z": qty, "T": t_ms}}}, separators=(",", ":"))


class Script:
    """A websocket server whose n-th connection plays the n-th list of actions."""

    def __init__(self, plays):
        self.plays = plays
        self.connections = 0
        self.received: list[list[str]] = []

    async def handler(self, ws):
        n = self.connections
        self.connections += 1
        got: list[str] = []
        self.received.append(got)
        play = self.plays[min(n, len(self.plays) - 1)]
        for action in play:
            if action == "ABORT":
                ws.transport.abort()
                return
            if action == "IGNORE":  # read and never answer (no pong): a dead-but-open stream
                try:
                    async for msg in ws:
                        got.append(msg)
                except Exception:
                    pass
                return
            if action == "WAIT":
                try:
                    async for msg in ws:
                        got.append(msg)
                        if msg == "ping":
                            await ws.send("pong")
                        elif '"op":"ping"' in msg.replace(" ", ""):
                            await ws.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping"}))
                except Exception:
                    pass
                return
            if isinstance(action, tuple) and action[0] == "EXPECT":
                got.append(await ws.recv())
                continue
            await ws.send(action)


async def _run(script: Script, spec_kw: dict, on_message, until, timeout=10.0):
    async with serve(script.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        spec = StreamSpec(url=f"ws://127.0.0.1:{port}/ws/!forceOrder@arr", **spec_kw)
        stop = asyncio.Event()
        gaps = []
        task = asyncio.create_task(run_stream(spec, on_message, stop, policy=FAST,
                                              on_gap=lambda *a: gaps.append(a)))
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not until() and loop.time() < end:
            await asyncio.sleep(0.02)
        stop.set()
        stats = await asyncio.wait_for(task, 5)
        return stats, gaps


def test_disconnect_duplicates_and_a_truncated_frame_lose_nothing_and_store_nothing_twice(tmp_path):
    t = 1_791_565_600_000
    a, b, c, d = (_binance_frame(t + k * 1000, q) for k, q in enumerate(("0.1", "0.2", "0.3", "0.4")))
    live = fixture_lines(LIVE["binance"])[0]  # the recorded frame, once before and once after the drop
    truncated = c[: len(c) // 2]
    script = Script([[live, a, a, a, a, a, b, "ABORT"], [live, a, c, truncated, d, "WAIT"]])
    with Store(tmp_path / "s.duckdb") as store:
        rec = RawRecorder(tmp_path / "raw")
        m = Monitor(store, [], [], recorder=rec, batch_messages=3, clock="wall")
        stats, gaps = asyncio.run(_run(script, {"venue": "binance"},
                                       lambda v, raw, at: m.message(v, raw, received=at),
                                       until=lambda: m.stats.messages + len(m.buffer) >= 12))
        m.flush()
        rec.close()
        liq = store.table("liquidations").execute()
        q = store.table("quarantine").execute()
        gaps_t = store.table("stream_gaps").count().execute()
        # every distinct event once: the recorded frame, a, b (before the drop), c, d (after)
        assert len(liq) == 5 and liq[["venue", "symbol", "ts", "id"]].duplicated().sum() == 0
        assert sorted(round(x, 2) for x in liq["qty"]) == [0.1, 0.19, 0.2, 0.3, 0.4]
        assert m.stats.duplicates + (m.stats.events - m.stats.new) >= 6  # 4 repeats of a + resent live + a
        assert len(q) == 1 and "not valid JSON" in q["reason"][0]
        assert stats.connects == 2 and len(gaps) == 1 and gaps_t == 0  # recorded by the caller's on_gap
        # the raw capture holds every message as received, in order, and names the quarantined line
        files = replay_files(tmp_path / "raw")
        lines = [l for f in files for l in read_lines(f)]
        assert lines == [live, a, a, a, a, a, b, live, a, c, truncated, d]
        assert q["line"][0] == 11 and q["file"][0] == f"stream:binance/{files[0].name}"

    # replaying the capture into a fresh store gives the same events; into the same store, nothing new
    with Store(tmp_path / "r.duckdb") as fresh:
        m2 = Monitor(fresh, [], [], clock="stream")
        m2.replay([tmp_path / "raw"])
        assert fresh.table("liquidations").count().execute() == 5
        assert fresh.table("quarantine").count().execute() == 1
    with Store(tmp_path / "s.duckdb") as store:
        m3 = Monitor(store, [], [], clock="stream")
        m3.replay([tmp_path / "raw"])
        assert m3.stats.new == 0 and store.table("quarantine").count().execute() == 1


def test_bybit_subscribes_and_sends_application_pings_and_pongs_are_not_recorded(tmp_path):
    frame = fixture_lines(LIVE["bybit"])[0]
    script = Script([[("EXPECT",), frame, "WAIT"]])
    seen = []
    sub = json.dumps({"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]})
    stats, _ = asyncio.run(_run(script, {"venue": "bybit", "subscribe": (sub,), "ping_text": json.dumps({"op": "ping"}),
                                         "ping_every": 0.05},
                                lambda v, raw, at: seen.append(raw),
                                until=lambda: len(script.received) and len(script.received[0]) >= 4))
    assert json.loads(script.received[0][0]) == {"op": "subscribe", "args": ["allLiquidation.BTCUSDT"]}
    assert any('"ping"' in m for m in script.received[0][1:])
    assert seen == [frame]  # the pongs were heartbeats, not data
    assert stats.heartbeats_sent >= 3


def test_okx_text_ping_is_answered_and_the_pong_keeps_the_stream_alive():
    script = Script([["WAIT"]])  # no data, but answers each "ping" with "pong"
    seen = []
    stats, gaps = asyncio.run(_run(script, {"venue": "okx", "ping_text": "ping", "ping_every": 0.05,
                                            "protocol_ping": None, "silence_timeout": 0.3},
                                   lambda v, raw, at: seen.append(raw),
                                   until=lambda: script.received and script.received[0].count("ping") >= 12))
    assert script.connections == 1 and stats.gaps == 0 and seen == []


def test_a_silent_stream_is_dropped_and_reconnected_with_the_gap_reported():
    script = Script([["IGNORE"]])  # reads the pings, never answers: silence
    stats, gaps = asyncio.run(_run(script, {"venue": "okx", "ping_text": "ping", "ping_every": 0.05,
                                            "protocol_ping": None, "silence_timeout": 0.3},
                                   lambda *a: None, until=lambda: script.connections >= 2))
    assert script.connections >= 2 and "ping" in script.received[0]
    assert stats.gaps >= 1 and "silent" in gaps[0][3]


def test_heartbeats_are_recognised_per_venue():
    assert is_heartbeat("okx", "pong")
    assert is_heartbeat("bybit", '{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}')
    assert is_heartbeat("bybit", '{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"pong"}')
    assert not is_heartbeat("bybit", fixture_lines(LIVE["bybit"])[0])
    assert not is_heartbeat("binance", fixture_lines(LIVE["binance"])[0])


def test_recorder_rolls_files_per_venue_per_hour_and_resumes_line_numbers(tmp_path):
    rec = RawRecorder(tmp_path)
    t = dt.datetime(2026, 10, 9, 17, 59, 59)
    assert rec.write("okx", "a", t)[1] == 1
    assert rec.write("okx", "b", t)[1] == 2
    origin, line = rec.write("okx", "c", t + dt.timedelta(seconds=2))
    assert (origin, line) == ("stream:okx/okx-2026-10-09T18.jsonl.gz", 1)
    rec.close()
    rec2 = RawRecorder(tmp_path)  # a restart appends to the hour's file and keeps counting
    assert rec2.write("okx", "d", t) == ("stream:okx/okx-2026-10-09T17.jsonl.gz", 3)
    rec2.close()
    assert list(read_lines(tmp_path / "okx" / "2026-10-09" / "okx-2026-10-09T17.jsonl.gz")) == ["a", "b", "d"]
