"""Verdicts out: the JSON envelope and the Markdown table (the CLI's rich table reuses `show`/`diff`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from btcstress.claims.judge import Verdict
from btcstress.claims.rules import fmt_value as _fmt
from btcstress.findings import iso


def to_json(verdicts: list[Verdict], as_of: dt.datetime) -> dict[str, Any]:
    counts = {k: sum(v.verdict == k for v in verdicts) for k in ("supported", "contradicted", "unverifiable")}
    return {"as_of": iso(as_of), "counts": counts, "verdicts": [v.model_dump(mode="json") for v in verdicts]}


def to_markdown(verdicts: list[Verdict], as_of: dt.datetime) -> str:
    counts = to_json(verdicts, as_of)["counts"]
    lines = [f"# Claim check as of {iso(as_of)}", "",
             f"{counts['supported']} supported, {counts['contradicted']} contradicted, "
             f"{counts['unverifiable']} unverifiable.", "",
             "| claim | finding | claimed | computed | difference | verdict | reason |",
             "|---|---|---:|---:|---:|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.claim_id} | {_md((v.finding or {}).get('id', ''))} | {_md(show(v.claimed, v.unit))} | "
                     f"{_md(show(v.computed, v.unit))} | {_md(diff(v))} | **{v.verdict}** | {_md(v.reason)} |")
    return "\n".join(lines) + "\n"


def _md(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def show(v: Any, unit: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _fmt(v, "USD" if unit.upper() == "USD" else unit)
    if isinstance(v, list):
        return ", ".join(map(str, v[:4])) + (" …" if len(v) > 4 else "")
    return str(v)


def diff(v: Verdict) -> str:
    if v.difference is None:
        return ""
    if v.unit == "pct":
        return f"{v.difference:+.2f} pp"
    out = _fmt(v.difference, "USD" if v.unit.upper() == "USD" else v.unit)
    if v.difference > 0:
        out = "+" + out
    return out + (f" ({v.difference_pct:+.1f}%)" if v.difference_pct is not None else "")
