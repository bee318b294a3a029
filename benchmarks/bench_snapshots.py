"""The brief from a stored snapshot (history/snapshots.py) against computing it, in one warm process.

On a COPY of a snapshot store (it writes finding_snapshots into it):

1. `store`: a backfill of the N days ending --end (`snapshots.store_range`): CPU per stored day instant and
   the table's size per instant (compressed findings, compressed series); then `snapshots.refresh(keep=N)`
   (the newest N day instants: what the first ingest adds);
2. `one day`: the newest stored snapshot deleted, then `refresh` again: the work a one-day ingest adds
   (the freshness check of the kept ones, one new day instant stored). Simulated: the data is not cut and
   re-ingested (that needs a finding_history rebuild of minutes), so the "ingested since" query of the
   check is not exercised here (it is one EXISTS query over the data tables; timed separately below);
3. `read`: at each stored day instant, the brief as `report --date D` builds it (`brief_findings` +
   `brief.build` + Markdown) from the snapshot, against the same with `metrics.compute(with_series=True)`
   (what `report` did before: the fair baseline, same question, same process); `lint_at` likewise;
4. `api`: GET /brief?format=json at those instants on a server without a response cache, against the
   same server asked with `/brief` at the same instant on a store copy without snapshots (`--plain`).

CPU is `time.process_time()` (this process; DuckDB's threads included), wall `perf_counter`; the load
average is printed: the machine may be shared.

    .venv/bin/python benchmarks/bench_snapshots.py --db data/copy.duckdb --plain data/copy2.duckdb [--n 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, *a, **k):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*a, **k)
    return out, time.process_time() - c0, time.perf_counter() - w0


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def bench_store(db: str, n: int, end: dt.datetime) -> dict:
    from btcstress.history import snapshots as snap
    from btcstress.store import Store
    with Store(db) as s:
        snap._ddl(s)
        s.duck.execute(f"DELETE FROM {snap.TABLE}")
        # a backfill of the n days ending at `end` (`btcstress snapshots --from --to`)
        done, cpu, wall = timed(snap.store_range, s, end - (n - 1) * dt.timedelta(days=1), end)
        sizes = s.duck.execute(f"SELECT as_of, octet_length(findings), octet_length(series), seconds FROM {snap.TABLE} "
                               "ORDER BY as_of").fetchall()
        # the first ingest's refresh (the newest n day instants), then a one-day ingest's (one new instant)
        first, fcpu, fwall = timed(snap.refresh, s, keep=n)
        newest = max(r.as_of for r in snap.stored(s))
        s.duck.execute(f"DELETE FROM {snap.TABLE} WHERE as_of = ?", [newest])
        one, cpu1, wall1 = timed(snap.refresh, s, keep=n)
        rows = snap.stored(s)
        _, ccpu, cwall = timed(lambda: [snap.check(s, r) for r in rows])
        total = s.duck.execute(f"SELECT sum(octet_length(findings) + octet_length(series)) FROM {snap.TABLE}").fetchone()[0]
    return {"backfill": {"stored": done["stored"], "cpu_s": round(cpu, 2), "wall_s": round(wall, 2)},
            "per_instant": [{"as_of": str(a), "findings_kb": round(f / 1024, 1), "series_kb": round(x / 1024, 1),
                             "compute_cpu_s": round(sec, 2)} for a, f, x, sec in sizes],
            "first_refresh": {"stored": first["stored"], "cpu_s": round(fcpu, 2), "wall_s": round(fwall, 2)},
            "one_day_refresh": {"stored": one["stored"], "cpu_s": round(cpu1, 2), "wall_s": round(wall1, 2)},
            "check_each_ms": round(cwall * 1000 / max(1, len(rows)), 1), "table_kb": round(total / 1024, 1),
            "stored": len(rows)}


def bench_read(db: str, instants: list[dt.datetime]) -> dict:
    from btcstress import brief, metrics
    from btcstress.brief import render
    from btcstress.brief.lint import lint, lint_at
    from btcstress.history import snapshots as snap
    from btcstress.store import Store
    out: dict[str, dict[str, list[float]]] = {}

    def add(name, cpu, wall):
        d = out.setdefault(name, {"cpu": [], "wall": []})
        d["cpu"].append(cpu)
        d["wall"].append(wall)
    with Store(db, read_only=True) as s:
        metrics.compute(s, instants[0], with_series=True)  # imports and first compiles
        for t in instants:
            fs, cpu, wall = timed(lambda: render.markdown(brief.build(snap.brief_findings(s, t))))
            assert fs, "empty brief"
            add("report, stored snapshot", cpu, wall)
            _, cpu, wall = timed(lambda: render.markdown(brief.build(metrics.compute(s, t, with_series=True))))
            add("report, computed", cpu, wall)
            (b, _), cpu, wall = timed(lint_at, s, t, as_written=True)
            assert b.served.startswith("stored snapshot"), b.served
            add("lint_at, stored snapshot", cpu, wall)
            _, cpu, wall = timed(lambda: lint(brief.build(metrics.compute(s, t, with_series=True))))
            add("lint_at, computed", cpu, wall)
    return {k: {"cpu_p50_s": med(v["cpu"]), "wall_p50_s": med(v["wall"]), "wall_max_s": round(max(v["wall"]), 3),
                "n": len(v["wall"])} for k, v in out.items()}


def bench_api(db: str, plain: str, instants: list[dt.datetime]) -> dict:
    from fastapi.testclient import TestClient

    from btcstress.api import create_app
    from btcstress.findings import iso
    out = {}
    for name, path in (("api /brief, stored snapshot", db), ("api /brief, computed", plain)):
        with TestClient(create_app(path, config={}, cache_size=0, token=None), base_url="http://127.0.0.1") as c:
            c.get("/health")
            lat, cpus = [], []
            for t in instants:
                r, cpu, wall = timed(c.get, "/brief", params={"as_of": iso(t), "format": "json"})
                assert r.status_code == 200, r.text
                served = r.json().get("served") or ""
                assert served.startswith("stored" if "stored" in name else "computed"), served
                lat.append(wall)
                cpus.append(cpu)
            out[name] = {"cpu_p50_s": med(cpus), "wall_p50_s": med(lat), "wall_max_s": round(max(lat), 3), "n": len(lat)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a COPY of a snapshot store (finding_snapshots is written)")
    ap.add_argument("--plain", help="another copy, without finding_snapshots (the API baseline)")
    ap.add_argument("--n", type=int, default=7)
    ap.add_argument("--only", default="store,read,api")
    ap.add_argument("--end", default="2026-02-05", help="last day of the backfill and of the read instants")
    args = ap.parse_args()
    only = set(args.only.split(","))
    res: dict = {"load_start": [round(x, 1) for x in os.getloadavg()]}
    from btcstress import config as cfg
    end = cfg.end_of_day(args.end).replace(tzinfo=None)
    if "store" in only:
        res["store"] = bench_store(args.db, args.n, end)
        print(json.dumps(res["store"]), flush=True)
    instants = [(end - i * dt.timedelta(days=1)).replace(tzinfo=dt.timezone.utc) for i in range(args.n)][::-1]
    if "read" in only:
        res["read"] = bench_read(args.db, instants)
        print(json.dumps(res["read"]), flush=True)
    if "api" in only and args.plain:
        res["api"] = bench_api(args.db, args.plain, instants[-3:])
        print(json.dumps(res["api"]), flush=True)
    res["load_end"] = [round(x, 1) for x in os.getloadavg()]
    print(f"load average {res['load_start']} -> {res['load_end']}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "snapshots.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
