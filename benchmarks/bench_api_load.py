"""Bounded load test of the HTTP API on 127.0.0.1: N concurrent clients for S seconds on /findings.

Starts `btcstress serve` in a subprocess on a free loopback port (so the server does not share a GIL
with the clients), once with the findings cache and once without, and reports p50/p99 latency and
throughput. Only 127.0.0.1 is ever contacted; every loop is bounded in time.

    .venv/bin/python benchmarks/bench_api_load.py --db data/btcstress.duckdb
    .venv/bin/python benchmarks/bench_api_load.py --clients 50 --seconds 30 --nocache-clients 4
    .venv/bin/python benchmarks/bench_api_load.py --uncached 8     # issue 15's target: uncached /findings p50

`--uncached N`: one client, the server without any cache, /findings at N distinct on-grid instants (day
ends a week apart back from 2026-02-06) and N off-grid ones (the same days at 13:30), each asked
four ways in the same run: all findings (served: the materialised areas from finding_history, the
rest computed), only the materialised areas' ids, and both with `derive=true` (every finding
computed: the baseline, what /findings did before). Reports p50/p90 per way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-02-06T08:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, cache_size: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("btcstress")
    proc = subprocess.Popen([str(exe), "--db", db, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--cache-size", str(cache_size)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


async def run_load(base: str, path: str, clients: int, seconds: float, timeout: float) -> dict:
    lat: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        async def worker():
            nonlocal errors
            while time.monotonic() < stop_at:  # bounded: no new request after the deadline
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    lat.append(time.perf_counter() - t0)
                else:
                    errors += 1
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - t0
    lat.sort()
    q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000) if lat else (lambda p: float("nan"))
    return {"path": path, "clients": clients, "seconds": round(elapsed, 1), "requests": len(lat), "errors": errors,
            "throughput_rps": round(len(lat) / elapsed, 2), "p50_ms": round(q(0.50), 1), "p99_ms": round(q(0.99), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None}


def uncached(db: str, n: int, with_off: bool = True) -> list[dict]:
    """p50/p90 of uncached /findings, served vs derived, on and off the grid (see the module doc)."""
    import datetime as dt
    from btcstress.history.calendar import DAY_END
    days = [dt.datetime(2026, 2, 6) + DAY_END - dt.timedelta(days=7 * i) for i in range(n)]  # day instants (D+1 07:00)
    on = [d.strftime("%Y-%m-%dT%H:%MZ") for d in days]
    off = [(d.replace(hour=13, minute=30)).strftime("%Y-%m-%dT%H:%MZ") for d in days] if with_off else []
    # the areas ingest materialises (every area but the scenario)
    stored_ids = "price.,market.,miners.,etf.,liquidations.,derivatives.,treasury.,stress."
    ways = {"all": "", "materialised areas": f"&ids={stored_ids}", "all, derive": "&derive=true",
            "materialised areas, derive": f"&ids={stored_ids}&derive=true"}
    proc, base = start_server(db, 0)
    out = []
    try:
        httpx.get(base + f"/findings?as_of={on[0]}&derive=true", timeout=300).raise_for_status()  # imports warm
        for grid, instants in (("on grid", on), ("off grid", off)):
            if not instants:
                continue
            for way, q in ways.items():
                lat, served = [], set()
                for t in instants:
                    t0 = time.perf_counter()
                    r = httpx.get(f"{base}/findings?as_of={t}{q}", timeout=300)
                    lat.append(time.perf_counter() - t0)
                    r.raise_for_status()
                    served |= {"stored" if h.startswith("stored") else h for h in r.json()["served"].values()}
                lat.sort()
                row = {"grid": grid, "way": way, "n": len(lat), "p50_ms": round(statistics.median(lat) * 1000, 1),
                       "p90_ms": round(lat[min(len(lat) - 1, int(0.9 * len(lat)))] * 1000, 1),
                       "served": sorted(served)}
                out.append(row)
                print(json.dumps(row), flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("\n| instants | question | n | p50 (ms) | p90 (ms) | how the areas were answered |")
    print("|---|---|---:|---:|---:|---|")
    for r in out:
        print(f"| {r['grid']} | {r['way']} | {r['n']} | {r['p50_ms']} | {r['p90_ms']} | {'; '.join(r['served'])} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=os.environ.get("BTCSTRESS_DB", str(ROOT / "data" / "btcstress.duckdb")))
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--nocache-clients", type=int, default=4,
                    help="clients for the run without the cache (each request is a full computation)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "api_load.json"))
    ap.add_argument("--uncached", type=int, default=0, metavar="N",
                    help="instead: uncached /findings at N on-grid and N off-grid instants, served vs derive")
    ap.add_argument("--on-grid-only", action="store_true", help="with --uncached: skip the off-grid instants "
                    "(there every area computes: the same work as derive=true)")
    args = ap.parse_args()
    if not Path(args.db).exists():
        raise SystemExit(f"no store at {args.db}: run `make demo` (or btcstress ingest snapshot) first")
    if args.uncached:
        res = uncached(args.db, args.uncached, with_off=not args.on_grid_only)
        out = Path(args.out).with_name("api_uncached.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2))
        return
    paths = [f"/findings?as_of={AS_OF}", f"/findings?as_of={AS_OF}&ids=price.,etf.net_flow_usd"]
    results = []
    for cache_size, clients in ((64, args.clients), (0, args.nocache_clients)):
        proc, base = start_server(args.db, cache_size)
        try:
            if cache_size:
                for p in paths:  # warm: the first question computes, the rest are answered from memory
                    httpx.get(base + p, timeout=120).raise_for_status()
            for p in paths[:2] if cache_size else paths[:1]:
                r = asyncio.run(run_load(base, p, clients, args.seconds, timeout=args.seconds + 120))
                r["cache"] = bool(cache_size)
                results.append(r)
                print(json.dumps(r), flush=True)
            if cache_size:
                print("health:", httpx.get(base + "/health").json()["cache"], flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"\n| cache | path | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {'on' if r['cache'] else 'off'} | `{r['path']}` | {r['clients']} | {r['requests']} | {r['errors']} | "
              f"{r['throughput_rps']} | {r['p50_ms']} | {r['p99_ms']} |")


if __name__ == "__main__":
    main()
