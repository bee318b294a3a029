"""The dashboard's as-of step, measured in the browser (Debian chromium via Playwright, as tests/api/
test_dashboard.py launches it) against `btcstress serve` on a loopback port (a subprocess, so the server
does not share a GIL with the browser driver).

One step = set the as-of through the page's own control (the `#asof` input's change event, what typing an
instant or a Jump-to does; the arrow keys add a 350 ms debounce on top) and wait until the cards show
the new instant (`body[data-state=ready]` with the new `data-as-of`). Timed inside the page with
`performance.now()`: from the change to the cards, to the chart series (`data-charts=ready`) and to the
brief's frame `load`. Before each step the previous one has settled (cards, charts and brief), so a
step does not queue behind the last one's brief.

Baseline in the same run: at the same instants the browser fetches `/findings?derive=true` (every finding
computed, what the as-of step's one request cost before finding_history was served) from a second server
without a cache (`--cache-size 0`), timed from this process: the first server has by then computed the
instant for the charts and the brief, and would answer from that computation.

    .venv/bin/python benchmarks/bench_dashboard.py --db data/btcstress.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_api_load import start_server  # noqa: E402

CHROMIUM = os.environ.get("BTCSTRESS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# Hours' ends in the hourly span around the crash, and day instants (D+1 07:00 UTC) further back (all on the grid).
STEPS = ["2026-02-05T09:00", "2026-02-05T10:00", "2026-02-05T11:00", "2026-02-06T03:00", "2026-02-06T04:00",
         "2026-02-06T05:00", "2025-10-11T07:00", "2025-04-08T07:00", "2024-08-06T07:00", "2024-03-15T07:00"]
START = "2026-02-06T08:00"

WATCH = """() => {
  window.__t = {};
  const mark = (k) => { window.__t[k] = performance.now(); };
  new MutationObserver(() => {
    const b = document.body.dataset;
    if (b.state === 'ready' && b.asOf === window.__want && !window.__t.cards) mark('cards');
    if (b.charts === 'ready' && window.__t.cards && !window.__t.charts) mark('charts');
  }).observe(document.body, {attributes: true});
  document.querySelector('#brief').addEventListener('load', () => { if (window.__t.cards) mark('brief'); });
}"""
STEP = """(v) => {
  window.__t = {}; window.__want = v + ':00Z';
  const el = document.querySelector('#asof');
  el.value = v; window.__t.start = performance.now();
  el.dispatchEvent(new Event('change'));
}"""


def p50(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=os.environ.get("BTCSTRESS_DB", str(ROOT / "data" / "btcstress.duckdb")))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dashboard_step.json"))
    ap.add_argument("--steps", type=int, default=len(STEPS), help="the first N of the steps (hours first)")
    args = ap.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright
    proc, base = start_server(args.db, 64)
    bproc, bbase = start_server(args.db, 0)  # the baseline's server: nothing cached
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{base}/?as_of={START}Z")
            page.wait_for_selector("body[data-state=ready][data-charts=ready]", timeout=300_000)
            page.evaluate(WATCH)
            for v in STEPS[:args.steps]:
                page.evaluate(STEP, v)
                page.wait_for_function("window.__t.cards && window.__t.charts && window.__t.brief", timeout=300_000)
                t = page.evaluate("window.__t")
                served = page.get_attribute("body", "data-served") or ""
                t0 = time.perf_counter()  # (from here, not the page: the second server is another origin)
                httpx.get(f"{bbase}/findings", params={"as_of": f"{v}:00Z", "derive": "true"}, timeout=600).json()
                base_ms = (time.perf_counter() - t0) * 1000
                row = {"as_of": v, "cards_ms": round(t["cards"] - t["start"], 1),
                       "charts_ms": round(t["charts"] - t["start"], 1), "brief_ms": round(t["brief"] - t["start"], 1),
                       "stored_areas": served, "baseline_findings_derive_ms": round(base_ms, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
            browser.close()
    finally:
        for pr in (proc, bproc):
            pr.terminate()
            pr.wait(timeout=15)
    summary = {k: p50([r[k] for r in rows]) for k in ("cards_ms", "charts_ms", "brief_ms", "baseline_findings_derive_ms")}
    print("p50:", json.dumps(summary))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"steps": rows, "p50": summary}, indent=2))


if __name__ == "__main__":
    main()
