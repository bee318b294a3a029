"""The seeded long fuzz run: every parser, >= 10,000 mutated inputs each, plus every real line of the
snapshot's files cut at every offset (read in place from ../shared/data, never copied).

    PYTHONPATH=src:. python scripts/fuzz_parsers.py [--cases 10000] [--seed 17] [--real-lines 3]

Property per input (tests/fuzz_harness.check): no exception out of a parser but ParseError, every
data line stored / skipped with a reason / quarantined, nothing non-finite or out of bounds stored.
Prints a Markdown table (the one in docs/RELIABILITY.md) and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests import fuzz_harness as h  # noqa: E402


def fuzz_samples(cases: int, seed: int) -> tuple[dict, list]:
    results, failures = {}, []
    for name, (_, sample, kind) in h.PARSERS.items():
        rng = random.Random(f"{seed}:{name}")
        outcome = collections.Counter()
        for text in h.truncations(name):
            outcome[_one(name, text, failures)] += 1
        for _ in range(cases):
            text = sample
            for _ in range(rng.randrange(1, 4)):
                text = h.mutate_text(text, kind, rng)
            outcome[_one(name, text, failures)] += 1
        results[name] = outcome
    return results, failures


def fuzz_real_lines(snapshot: Path, per_file: int, seed: int) -> tuple[dict, list]:
    """Each snapshot importer on its header plus real lines cut at every offset."""
    from btcstress.errors import ParseError
    from btcstress.parsers import bounds
    from btcstress.parsers.snapshot import IMPORTERS

    results, failures = {}, []
    rng = random.Random(seed)
    for rel, parser in IMPORTERS.items():
        path = snapshot / rel
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        header, body = (lines[0], lines[1:]) if not rel.startswith("price/binance") else ("", lines)
        picks = rng.sample(body, min(per_file, len(body))) if body else []
        n = 0
        for line in picks:
            for i in range(len(line) + 1):
                text = (header + "\n" if header else "") + line[:i] + "\n"
                n += 1
                try:
                    parsed = parser(text, "fuzz-real")
                except ParseError:
                    continue
                except Exception as exc:  # noqa: BLE001 - a failure to report
                    failures.append((rel, f"{type(exc).__name__}: {exc}", text[:200]))
                    continue
                try:
                    for target, rows in parsed.rows.items():
                        for r in rows:
                            bounds.check(target, r)
                    parsed.tables()
                except Exception as exc:  # noqa: BLE001
                    failures.append((rel, f"{type(exc).__name__}: {exc}", text[:200]))
        results[rel] = n
    return results, failures


def _one(name: str, text: str, failures: list) -> str:
    try:
        return h.check(name, text)
    except Exception as exc:  # noqa: BLE001 - a failure to report
        failures.append((name, f"{type(exc).__name__}: {str(exc)[:200]}", text[:200]))
        return "FAILED"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--real-lines", type=int, default=3, help="real lines per snapshot file, cut at every offset")
    ap.add_argument("--snapshot", type=Path, default=ROOT.parent / "shared" / "data")
    a = ap.parse_args()
    t0 = time.perf_counter()
    results, failures = fuzz_samples(a.cases, a.seed)
    print(f"| parser | cases | stored | quarantined | refused (ParseError) | failures |\n|---|---:|---:|---:|---:|---:|")
    for name, c in results.items():
        print(f"| {name} | {sum(c.values()):,} | {c['stored']:,} | {c['quarantined']:,} | {c['refused']:,} | "
              f"{c['FAILED']} |")
    total = sum(sum(c.values()) for c in results.values())
    print(f"\n{total:,} mutated inputs over {len(results)} parsers (seed {a.seed}), {len(failures)} failures")
    real, real_failures = ({}, [])
    if a.snapshot.is_dir():
        real, real_failures = fuzz_real_lines(a.snapshot, a.real_lines, a.seed)
        print(f"{sum(real.values()):,} truncations of {a.real_lines} real line(s) from each of {len(real)} snapshot "
              f"files, {len(real_failures)} failures")
    print(f"{time.perf_counter() - t0:.0f} s")
    for f in (failures + real_failures)[:30]:
        print("FAIL", f)
    return 1 if failures or real_failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
