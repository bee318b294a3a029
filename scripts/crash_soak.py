"""Crash soak: `kill -9` at random points of ingest, export and monitor, then a rerun, compared with a
clean run. Everything is real: the CLI in a subprocess, DuckDB files, a websocket server on 127.0.0.1
standing in for Binance's liquidation stream (frames written here in its documented shape).

    PYTHONPATH=src:. python scripts/crash_soak.py --kills 110 [--seed 17] [--out report.json]

Per kill, it checks:
- ingest: right after the kill the store's data tables are as before the run or as after a clean run
  (never between), and so are its read copy's (what readers get during a write); the derived
  finding_history tables are refreshed after the data's commit, in their own transactions, so they are
  checked after the rerun;
  the rerun's tables equal the clean run's (0 lost, 0 duplicated, 0 changed rows);
- export: a user's file in the warehouse is never touched, the rerun's warehouse holds exactly the
  clean export's rows, no temporary folder is left behind;
- monitor: after the rerun every frame the stream sent is stored exactly once, equal to a clean run.
The files ingested are a few of ../shared/data's, read in place (symlinked into a temporary folder,
never copied). Exit 1 on any violation. tests/test_crash_soak.py runs a short version (>= 10 kills).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(os.environ.get("BTCSTRESS_SHARED", ROOT.parent / "shared")) / "data"
FILES = ["price/cryptoquant_btc_usd_ohlcv_daily.csv", "price/binance_spot_btcusdt_1h_2026-01_2026-02.csv",
         "network/cryptoquant_btc_hashrate_daily.csv", "etf/farside_btc_etf_flows_daily.csv",
         "liquidations/cryptoquant_btc_long_liquidations_usd_daily.csv", "treasury/mstr_btc_holdings_from_sec_8k.csv"]
# Compared by content (minus ingested_at); bookkeeping tables by what must hold for them.
SKIP = {"ingest_log", "quality"}
VOLATILE = {"ingested_at"}
# finding_history_state is the last refresh's bookkeeping: its watermark is an ingested_at (volatile by
# nature), first/last/instants the span it recomputed (an incremental rerun recomputes less than a clean
# run). Only area and version must agree; the stored rows themselves (finding_history) are compared whole.
VOLATILE_BY_TABLE = {"quarantine": {"available_at"}, "checkpoints": {"available_at", "value"},
                     "finding_history_state": {"refreshed_at", "seconds", "instants", "watermark", "first", "last"},
                     "liquidations": {"origin"}, "stream_gaps": {"started", "ended", "available_at", "reason"}}
FRAMES = 40


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "btcstress.cli", *args]


def digest(db: Path, tables: set[str] | None = None) -> dict[str, str]:
    """table -> hash of its rows (volatile columns out), from a read-only open."""
    if not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'main'").fetchall()]
        for t in sorted(names):
            if t in SKIP or (tables is not None and t not in tables):
                continue
            cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                              "ORDER BY ordinal_position", [t]).fetchall()]
            keep = [c for c in cols if c not in VOLATILE | VOLATILE_BY_TABLE.get(t, set())]
            if t == "stream_gaps":
                keep = ["venue"]
            rows = con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in keep)} FROM "{t}" '
                               f'ORDER BY ALL').fetchall()
            if t == "stream_gaps":  # outages depend on when the kill hit: compared by whether any were kept
                out[t] = f"{min(len(rows), 1)}:gaps"
                continue
            out[t] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return out
    finally:
        con.close()


# Derived from the data after its commit, in their own transactions (btcstress.history.materialize): a kill
# in between leaves the data whole and these absent or stale, which readers detect (they compute instead).
# They are checked after the rerun (equal to a clean run), not right after the kill.
DERIVED = {"finding_history", "finding_history_state", "finding_history_flags"}


def whole(state: dict, before: dict, clean: dict) -> bool:
    """The data tables of `state` are as before the run, as after a clean run, or empty (never between)."""
    def data(d):
        return {t: h for t, h in d.items() if t not in DERIVED}
    return data(state) in (data(before), data(clean)) or all(h.startswith("0:") for h in data(state).values())


def kill_at(cmd: list[str], delay: float, cwd: Path) -> tuple[bool, int]:
    """Run cmd, SIGKILL it after `delay` seconds; (killed before it finished, returncode)."""
    p = subprocess.Popen(cmd, env=env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=delay)
        return False, p.returncode
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True, p.returncode


def run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env(), cwd=cwd, capture_output=True, text=True, timeout=timeout)


class Soak:
    def __init__(self, work: Path, rng: random.Random, log=print, files=FILES):
        self.work, self.rng, self.log = work, rng, log
        self.results: dict[str, dict] = {}
        self.violations: list[str] = []
        self.folder = work / "snapshot"
        for rel in files:  # symlinks: the shared files are read in place, never copied
            (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(SNAPSHOT / rel, self.folder / rel)

    def _runs(self, phase: str, kills: int):
        """Run numbers until `kills` runs were really killed mid-way (a run may end before its kill
        instant), at most 2 x kills runs."""
        i = 0
        while self.results.get(phase, {}).get("killed", 0) < kills and i < 2 * kills:
            yield i
            i += 1

    def _record(self, phase: str, killed: bool, ok: bool, note: str = "") -> None:
        r = self.results.setdefault(phase, {"runs": 0, "killed": 0, "violations": 0})
        r["runs"] += 1
        r["killed"] += int(killed)
        self.log(f"{phase} run {r['runs']}: {'killed mid-way' if killed else 'finished before its kill'}, "
                 f"{'ok' if ok else 'VIOLATION'} (so far {r['killed']} kills, {r['violations'] + (not ok)} violations)")
        if not ok:
            r["violations"] += 1
            self.violations.append(f"{phase}: {note}")
            self.log(f"VIOLATION {phase}: {note}")

    # -- ingest -----------------------------------------------------------------------------------

    def ingest_clean(self) -> tuple[Path, float]:
        db = self.work / "clean.duckdb"
        t0 = time.monotonic()
        r = run(cli("--db", str(db), "ingest", "snapshot", str(self.folder), "--allow-quarantine"), self.work)
        assert r.returncode == 0, r.stderr[-2000:]
        self.clean_ingest = digest(db)
        return db, time.monotonic() - t0

    def ingest(self, n: int, span: float) -> None:
        for i in self._runs("ingest", n):
            db = self.work / f"ingest-{i}.duckdb"
            second = i % 2 == 1  # odd runs: kill a re-ingest over a complete store (must stay complete)
            if second:
                assert run(cli("--db", str(db), "ingest", "snapshot", str(self.folder), "--allow-quarantine"),
                           self.work).returncode == 0
            before = digest(db)
            killed, _ = kill_at(cli("--db", str(db), "ingest", "snapshot", str(self.folder), "--allow-quarantine"),
                                self.rng.uniform(0.0, span * 0.95), self.work)
            after_kill = digest(db)
            ok_state = whole(after_kill, before, self.clean_ingest)
            # The read copy readers get while a writer holds the store: always a whole committed state.
            ok_state = ok_state and whole(digest(Path(str(db) + ".readcopy")), before, self.clean_ingest)
            t0 = time.monotonic()
            r = run(cli("--db", str(db), "ingest", "snapshot", str(self.folder), "--allow-quarantine"), self.work)
            span = min(span, time.monotonic() - t0)  # kill within what a run takes now, not what the first took
            rerun = digest(db)
            ok = ok_state and r.returncode == 0 and rerun == self.clean_ingest
            diff = sorted(t for t in set(rerun) | set(self.clean_ingest) if rerun.get(t) != self.clean_ingest.get(t))
            odd = {t: (before.get(t), h, self.clean_ingest.get(t)) for t, h in after_kill.items()
                   if h != before.get(t) and h != self.clean_ingest.get(t)}
            self._record("ingest", killed, ok, f"run {i}: state after kill ok={ok_state} (before, after kill, clean: "
                                               f"{odd}), rerun rc={r.returncode}, tables differing from the clean "
                                               f"run: {diff}")
            for f in (db, Path(str(db) + ".wal"), Path(str(db) + ".readcopy")):
                f.unlink(missing_ok=True)

    # -- export -----------------------------------------------------------------------------------

    def export(self, n: int, db: Path) -> None:
        clean = self.work / "wh-clean"
        t0 = time.monotonic()
        assert run(cli("--db", str(db), "export", "parquet", str(clean)), self.work).returncode == 0
        span = time.monotonic() - t0
        want = warehouse_rows(clean)
        for i in self._runs("export", n):
            wh = self.work / f"wh-{i}"
            first = i % 2 == 0
            if not first:  # odd runs: kill an export over an existing warehouse holding a user's file
                assert run(cli("--db", str(db), "export", "parquet", str(wh)), self.work).returncode == 0
            user = wh / "README-mine.txt"
            if not first:
                user.write_text("mine")
            killed, _ = kill_at(cli("--db", str(db), "export", "parquet", str(wh)), self.rng.uniform(0.0, span),
                                self.work)
            t0 = time.monotonic()
            r = run(cli("--db", str(db), "export", "parquet", str(wh)), self.work)
            span = min(span, time.monotonic() - t0)
            got = warehouse_rows(wh)
            hidden = [p.name for p in wh.iterdir() if p.name.startswith(".")] if wh.exists() else []
            ok = r.returncode == 0 and got == want and not hidden and (first or user.read_text() == "mine")
            self._record("export", killed, ok, f"run {i}: rc={r.returncode} {r.stderr[-300:]!r} rows equal="
                                               f"{got == want} leftovers={hidden}")

    # -- monitor ----------------------------------------------------------------------------------

    def monitor(self, n: int) -> None:
        port, stop, connections = start_stream_server(frames(FRAMES))
        cfg = self.work / "monitor.yaml"
        cfg.write_text(f'sources: {{binance: {{ws_stream_url: "ws://127.0.0.1:{port}/ws/x"}}}}\n')
        rules = self.work / "rules.yaml"
        rules.write_text("- {name: many, finding: liquidations.count, subject: BTC, window: '24h', op: '>=', "
                         "value: 1000000}\n")

        def cmd(db, raw):
            return cli("--db", str(db), "--config", str(cfg), "monitor", "--rules", str(rules), "--venues", "binance",
                       "--pull", "", "--batch", "7", "--batch-ms", "200", "--raw-dir", str(raw))

        clean_db = self.work / "mon-clean.duckdb"
        t0 = time.monotonic()
        rc, err = run_until_stored(cmd(clean_db, self.work / "raw-clean"), clean_db, FRAMES, self.work, connections)
        span = time.monotonic() - t0
        clean = digest(clean_db, {"liquidations"})
        assert rc == 0 and clean["liquidations"].startswith(f"{FRAMES}:"), (rc, err[-2000:], clean)
        for i in self._runs("monitor", n):
            db, raw = self.work / f"mon-{i}.duckdb", self.work / f"raw-{i}"
            killed, _ = kill_at(cmd(db, raw), self.rng.uniform(0.5, span), self.work)
            rc, err = run_until_stored(cmd(db, raw), db, FRAMES, self.work, connections)
            got = digest(db, {"liquidations"})  # every frame once (stream gaps differ by design)
            wal = Path(str(db) + ".wal").exists()  # a stopped monitor has folded its batches into the file
            ok = rc == 0 and got == clean and not wal
            self._record("monitor", killed, ok, f"run {i}: rc={rc} {err[-300:]!r} got {got} want {clean} "
                                                f"wal left={wal}")
        stop()


def run_until_stored(cmd: list[str], db: Path, n: int, cwd: Path, connections, timeout: float = 900
                     ) -> tuple[int, str]:
    """Run a live monitor until it is connected to the stream and the store holds n liquidations (read
    between its batches: the monitor holds the file only while it writes one), then stop it with
    SIGTERM; (exit code, stderr). The timeout is generous: on a loaded machine a monitor has taken
    over 2 minutes for 40 frames, and one stopped at a 180 s timeout had not yet read the 40th frame
    from its socket (not in its raw capture either), which showed up as a lost row."""
    before = connections()
    p = subprocess.Popen(cmd, env=env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.3)
        if connections() == before:
            continue
        try:
            con = duckdb.connect(str(db), read_only=True)
        except (duckdb.Error, OSError):
            continue
        try:
            have = con.execute("SELECT count(*) FROM liquidations").fetchone()[0]
        except duckdb.Error:
            have = 0
        finally:
            con.close()
        if have >= n:
            break
    timed_out = p.poll() is None and time.monotonic() >= deadline
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    return p.returncode, err + (f"\n[soak: stopped at its {timeout:g} s timeout]" if timed_out else "")


def warehouse_rows(wh: Path) -> dict[str, int]:
    if not (wh / "_btcstress.json").is_file():
        return {}
    out = {}
    con = duckdb.connect()
    for d in sorted(p for p in wh.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = list(d.rglob("*.parquet"))
        out[d.name] = con.execute(f"SELECT count(*) FROM read_parquet({[str(f) for f in files]!r})").fetchone()[0] \
            if files else 0
    con.close()
    return out


def frames(n: int) -> list[str]:
    base = int((dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).timestamp() * 1000)
    return [json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": base + i * 1000 + 3, "o": {
        "s": "BTCUSDT", "S": "SELL" if i % 3 else "BUY", "o": "LIMIT", "f": "IOC", "q": f"0.{i + 1:03d}",
        "p": "90000", "ap": f"{90000 + i}", "X": "FILLED", "l": f"0.{i + 1:03d}", "z": f"0.{i + 1:03d}",
        "T": base + i * 1000}}}) for i in range(n)]


def start_stream_server(msgs: list[str]):
    """A websocket server on 127.0.0.1 that sends every frame, paced, on each connection, then idles."""
    from websockets.asyncio.server import serve
    ready, holder = threading.Event(), {"connections": 0}

    async def handler(ws):
        from websockets.exceptions import ConnectionClosed
        holder["connections"] += 1
        try:
            for m in msgs:
                await ws.send(m)
                await asyncio.sleep(0.02)
            await ws.wait_closed()
        except ConnectionClosed:  # the monitor was killed: expected
            pass

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            holder["port"] = server.sockets[0].getsockname()[1]
            holder["stop"] = asyncio.Event()
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            await holder["stop"].wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(10)
    return (holder["port"], lambda: holder["loop"].call_soon_threadsafe(holder["stop"].set),
            lambda: holder["connections"])


def soak(kills: int, seed: int, work: Path, log=print, files=FILES, only: str | None = None) -> dict:
    """`kills` kills split 45/25/30 over ingest, export and monitor, or all on one phase (`only`)."""
    rng = random.Random(seed)
    s = Soak(work, rng, log, files=files)
    n_ingest = max(4, kills * 45 // 100)
    n_export = max(3, kills * 25 // 100)
    n_monitor = max(3, kills - n_ingest - n_export)
    if only:
        n_ingest, n_export, n_monitor = (kills if only == p else 0 for p in ("ingest", "export", "monitor"))
    db, span = s.ingest_clean()
    t0 = time.monotonic()
    for phase, n, run_phase in (("ingest", n_ingest, lambda n: s.ingest(n, span)),
                                ("export", n_export, lambda n: s.export(n, db)),
                                ("monitor", n_monitor, s.monitor)):
        if n:
            run_phase(n)
            log(f"{phase} done: {s.results.get(phase)}")
    return {"seed": seed, "runs": s.results, "kills": sum(r["killed"] for r in s.results.values()),
            "violations": s.violations, "seconds": round(time.monotonic() - t0), "clean_ingest": s.clean_ingest,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=110)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", choices=("ingest", "export", "monitor"), help="all kills on one phase")
    ap.add_argument("--files", nargs="*", default=FILES, help="snapshot files to ingest (relative paths)")
    ap.add_argument("--work", type=Path, help="work in this (new) folder and keep it, to examine a failure")
    a = ap.parse_args()
    if a.work:
        a.work.mkdir(parents=True)
        rep = soak(a.kills, a.seed, a.work, files=a.files, only=a.only)
    else:
        with tempfile.TemporaryDirectory() as d:
            rep = soak(a.kills, a.seed, Path(d), files=a.files, only=a.only)
    print(json.dumps({k: v for k, v in rep.items() if k != "clean_ingest"}, indent=2))
    if a.out:
        a.out.write_text(json.dumps(rep, indent=2) + "\n")
    return 1 if rep["violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
