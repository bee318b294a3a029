"""Where alerts go: one JSON object per alert, to stdout, appended to a file, or POSTed to a webhook
(btcstress.delivery: off the event loop, bounded queue, retries, dead letters)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import IO

from btcstress.delivery import WebhookSink  # noqa: F401  (re-exported: a monitor sink)
from btcstress.findings import Finding, iso
from btcstress.monitor.rules import Rule


class StdoutSink:
    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream

    def emit(self, alert: dict) -> None:
        s = self.stream or sys.stdout
        s.write(json.dumps(alert, separators=(",", ":"), allow_nan=False) + "\n")
        s.flush()


class FileSink:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, alert: dict) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert, separators=(",", ":"), allow_nan=False) + "\n")


# The webhook sink delivers off the event loop with a bounded queue and dead letters: btcstress.delivery.


def alert(rule: Rule, f: Finding, at: dt.datetime) -> dict:
    return {"type": "alert", "rule": rule.name, "message": message(rule, f), "finding": f.id, "subject": f.subject,
            "window": f.window, "op": rule.op, "threshold": rule.value, "value": f.value, "unit": f.unit,
            "as_of": iso(at), "fired_at": iso(dt.datetime.now(dt.timezone.utc)), "method": f.method, "note": f.note,
            "sources": [s.model_dump(mode="json") for s in f.sources]}


def message(rule: Rule, f: Finding) -> str:
    """One line a human reads: 'BTC liquidations.total_usd 24h $26.4k > $20k [rule btc-liq-24h]'."""
    from btcstress.brief.fmt import text
    style = "usd_short" if f.unit == "USD" else f.unit
    shown = lambda v: text(float(v), style)  # noqa: E731
    window = f" {f.window}" if f.window else ""
    return f"{f.subject} {f.id}{window} {shown(f.value)} {rule.op} {shown(rule.value)} [rule {rule.name}]"


def payload(a: dict, fmt: str = "json") -> dict:
    """What a webhook receives: the alert as is ("json"), or with Slack's `text` field first ("slack":
    Slack, Mattermost and Discord's Slack-compatible endpoints show `text` and ignore the rest)."""
    if fmt == "slack":
        return {"text": a["message"], **a}
    return a
