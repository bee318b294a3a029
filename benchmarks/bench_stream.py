"""Stream throughput: liquidation messages parsed, normalised and stored per second, and the latency
from a message's arrival to the alert rules being evaluated with it (p50/p99), replayed at full speed.

The messages are synthetic, generated here in the three venues' documented shapes (Binance USD-M
forceOrder, Bybit allLiquidation, OKX liquidation-orders on BTC-USDT-SWAP), one message per 100 ms of
stream time. Stages:
  parse      EventBuffer.add only (JSON decode, venue parser, validation, normalised row, dedupe)
  + store    plus the batched upsert into DuckDB (every --batch messages)
  monitor    the whole monitor: store batches, recompute the leverage area (debounced), evaluate rules;
             a rule that always holds (cooldown 0) fires on every recompute, so alert latency is measured
  naive      recompute after every message (batch 1, no debounce), on a small sample: why we batch

    .venv/bin/python benchmarks/bench_stream.py [--messages 20000] [--batch 500] [--recompute-ms 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from btcstress.connectors.streams import EventBuffer
from btcstress.monitor import Monitor, Rule, percentile
from btcstress.store import Store

T0 = 1_791_565_600_000  # 2026-10-09 17:06:40 UTC, ms


def messages(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + i * 100
        px = 82_000 + rng.uniform(-500, 500)
        venue = ("binance", "bybit", "okx")[i % 3]
        if venue == "binance":
            q = f"{rng.uniform(0.001, 2):.3f}"
            m = {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": t + 3, "o": {
                "s": "BTCUSDT", "S": rng.choice(("SELL", "BUY")), "o": "LIMIT", "f": "IOC", "q": q, "p": f"{px:.1f}",
                "ap": f"{px:.1f}", "X": "FILLED", "l": q, "z": q, "T": t}}}
        elif venue == "bybit":
            m = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": t + 2, "data": [
                {"T": t - k, "s": "BTCUSDT", "S": rng.choice(("Buy", "Sell")), "v": f"{rng.uniform(0.001, 1):.3f}",
                 "p": f"{px:.1f}"} for k in range(rng.randint(1, 3))]}
        else:
            side = rng.choice(("sell", "buy"))
            m = {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [{
                "details": [{"bkLoss": "0", "bkPx": f"{px:.1f}", "ccy": "", "posSide": "long" if side == "sell" else "short",
                             "side": side, "sz": f"{rng.randint(1, 500)}", "ts": str(t)}],
                "instFamily": "BTC-USDT", "instId": "BTC-USDT-SWAP", "instType": "SWAP", "uly": "BTC-USDT"}]}
        out.append((venue, json.dumps(m, separators=(",", ":"))))
    return out


def bench_parse(msgs) -> float:
    buf = EventBuffer()
    t0 = time.perf_counter()
    for i, (v, raw) in enumerate(msgs, start=1):
        buf.add(v, raw, "bench", i)
    return len(msgs) / (time.perf_counter() - t0)


def bench_store(msgs, batch: int, db: Path) -> float:
    buf = EventBuffer()
    with Store(db) as store:
        t0 = time.perf_counter()
        for i, (v, raw) in enumerate(msgs, start=1):
            buf.add(v, raw, "bench", i)
            if len(buf) >= batch:
                buf.flush(store)
        buf.flush(store)
        return len(msgs) / (time.perf_counter() - t0)


RULES = [Rule(name="always", finding="liquidations.count", subject="BTC", window="24h", op=">=", value=0, cooldown=0),
         Rule(name="big", finding="liquidations.total_usd", subject="BTC", window="24h", op=">", value=1e12)]


def bench_monitor(msgs, batch: int, recompute_ms: float, db: Path) -> dict:
    with Store(db) as store:
        m = Monitor(store, RULES, [], batch_messages=batch, batch_ms=10_000, recompute_ms=recompute_ms,
                    clock="stream", track_latency=True)
        t0 = time.perf_counter()
        for i, (v, raw) in enumerate(msgs, start=1):
            m.message(v, raw, origin="bench", line=i)
        m.flush()
        wall = time.perf_counter() - t0
        s = m.stats
    return {"msgs_per_s": len(msgs) / wall, "wall_s": wall, "recomputes": s.recomputes, "alerts": s.alerts,
            "recompute_ms_mean": 1000 * s.recompute_s / max(1, s.recomputes),
            "p50_ms": 1000 * percentile(s.latencies_s, 50), "p99_ms": 1000 * percentile(s.latencies_s, 99),
            "alert_p50_ms": 1000 * (percentile(s.alert_latencies_s, 50) or 0),
            "alert_p99_ms": 1000 * (percentile(s.alert_latencies_s, 99) or 0),
            "parse_s": s.parse_s, "store_s": s.store_s, "recompute_s": s.recompute_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--recompute-ms", type=float, default=1000.0)
    ap.add_argument("--eager", type=int, default=5_000, help="messages for the recompute-every-batch run")
    ap.add_argument("--naive", type=int, default=100, help="messages for the recompute-per-message baseline")
    a = ap.parse_args()
    msgs = messages(a.messages)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parse = bench_parse(msgs)
        store = bench_store(msgs, a.batch, tmp / "store.duckdb")
        mon = bench_monitor(msgs, a.batch, a.recompute_ms, tmp / "mon.duckdb")
        eager = bench_monitor(msgs[: a.eager], 100, 0.0, tmp / "eager.duckdb")
        naive = bench_monitor(msgs[: a.naive], 1, 0.0, tmp / "naive.duckdb")
    print(f"messages: {a.messages} (synthetic, three venues' documented shapes)")
    print(f"parse + normalise:           {parse:10,.0f} msg/s")
    print(f"parse + normalise + store:   {store:10,.0f} msg/s (batches of {a.batch})")
    for label, r in ((f"monitor (batch {a.batch}, recompute <= every {a.recompute_ms:.0f} ms)", mon),
                     (f"monitor (batch 100, recompute every batch, {a.eager} msgs)", eager),
                     (f"naive (recompute every message, {a.naive} msgs)", naive)):
        print(f"{label}: {r['msgs_per_s']:,.0f} msg/s, {r['recomputes']} recomputes "
              f"({r['recompute_ms_mean']:.0f} ms each), latency p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms, "
              f"alert latency p50 {r['alert_p50_ms']:.0f} ms p99 {r['alert_p99_ms']:.0f} ms "
              f"[parse {r['parse_s']:.2f} s, store {r['store_s']:.2f} s, recompute {r['recompute_s']:.2f} s]")


if __name__ == "__main__":
    main()
