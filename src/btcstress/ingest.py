"""Ingest runs: parse files, upsert what is valid, quarantine what is not, log everything.

A run is one transaction: killed at any point it leaves the store as it was. A second run over the
same input adds nothing (upserts by natural key).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from btcstress.errors import BtcstressError, ParseError, QuarantineError
from btcstress.sources.common import Parsed
from btcstress.store import Store, UpsertResult

# Test hook: seconds to sleep after the Nth file, inside the transaction, so a test can SIGKILL a
# run mid-way. Format "N:SECONDS". Never set in normal use.
PAUSE_ENV = "BTCSTRESS_TEST_PAUSE_AFTER_FILE"


@dataclass
class FileReport:
    file: str
    targets: list[str]
    lines_in: int
    result: UpsertResult
    quarantined: int
    skipped: dict[str, int]


@dataclass
class RunReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    flags: int = 0  # rows in the quality table after the run

    @property
    def lines_in(self) -> int:
        return sum(f.lines_in for f in self.files)

    @property
    def stored(self) -> UpsertResult:
        total = UpsertResult()
        for f in self.files:
            total += f.result
        return total

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(sum(f.skipped.values()) for f in self.files)

    def summary(self) -> str:
        s = self.stored
        return (f"{len(self.files)} files, {self.lines_in} rows in: {s.new} new, {s.updated} updated, "
                f"{s.unchanged} unchanged, {self.quarantined} quarantined, {self.skipped} skipped; "
                f"{self.flags} suspect values flagged (`btcstress quality`)")


Job = tuple[Path | None, str, Callable[[str, str], Parsed] | Parsed]


def run(store: Store, jobs: Iterable[Job], *, allow_quarantine: bool = False,
        progress: Callable[[str], None] | None = None) -> RunReport:
    """Ingest each (path, origin, parser) job; all in one transaction.

    A job may carry an already-parsed result instead of a parser (path None), for connectors that
    parse what they fetched. Raises QuarantineError after committing when rows were quarantined
    and allow_quarantine is False, so the good rows are kept and the bad ones are inspectable.
    """
    report = RunReport(run_id=uuid.uuid4().hex[:12])
    pause_n, pause_s = _pause()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.transaction():
        for n, (path, origin, parser) in enumerate(jobs, start=1):
            if progress:
                progress(origin)
            started = dt.datetime.now(dt.timezone.utc)
            parsed = parser if isinstance(parser, Parsed) else _parse(path, origin, parser)
            result = UpsertResult()
            for target, table in parsed.tables().items():
                result += store.upsert(target, table, ingested_at=now)
            quarantined = store.quarantine(parsed.quarantine)
            store.log_ingest(report.run_id, ",".join(sorted(parsed.rows)) or "-", origin, started, result,
                             quarantined)
            report.files.append(FileReport(origin, sorted(parsed.rows), parsed.lines_in, result, quarantined,
                                           dict(parsed.skipped)))
            if n == pause_n:
                time.sleep(pause_s)
        # Flags are derived from everything stored: recomputed in the same transaction.
        from btcstress import quality
        report.flags = quality.refresh(store)
    if report.quarantined and not allow_quarantine:
        raise QuarantineError(f"{report.summary()}. Quarantined rows are in the `quarantine` table "
                              "(`btcstress quarantine`); rerun with --allow-quarantine to accept.")
    return report


def _parse(path: Path | None, origin: str, parser) -> Parsed:
    if path is None:
        raise BtcstressError(f"{origin}: nothing to parse")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path}: not UTF-8 text ({exc})") from None
    return parser(text, origin)


def _pause() -> tuple[int, float]:
    raw = os.environ.get(PAUSE_ENV)
    if not raw:
        return -1, 0.0
    n, s = raw.split(":")
    return int(n), float(s)


def events_job() -> Job:
    """The packaged events table, ingested with every snapshot or live run."""
    from btcstress.sources import events
    return (None, events.ORIGIN, events.packaged())
