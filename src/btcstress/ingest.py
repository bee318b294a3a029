"""Ingest runs: parse files, upsert what is valid, quarantine what is not, log everything.

A run is one transaction: killed at any point it leaves the store as it was. A second run over the
same input adds nothing (upserts by natural key).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from btcstress.errors import BtcstressError, InputError, ParseError, QuarantineError
from btcstress.parsers.common import Parsed
from btcstress.store import Store, UpsertResult

# Test hook: seconds to sleep after the Nth file, inside the transaction, so a test can SIGKILL a
# run mid-way. Format "N:SECONDS". Never set in normal use.
PAUSE_ENV = "BTCSTRESS_TEST_PAUSE_AFTER_FILE"
log = logging.getLogger(__name__)


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
    history: dict = field(default_factory=dict)  # finding_history refresh per area (instants, seconds)
    snapshots: dict = field(default_factory=dict)  # finding_snapshots refresh (stored, dropped, CPU seconds)

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


def run(store: Store, jobs: Iterable[Job], *, allow_quarantine: bool = False, allow_rewrite: bool = False,
        progress: Callable[[str], None] | None = None, refresh: bool = True) -> RunReport:
    """Ingest each (path, origin, parser) job; all in one transaction.

    A job may carry an already-parsed result instead of a parser (path None), for connectors that
    parse what they fetched. Raises QuarantineError after committing when rows were quarantined
    and allow_quarantine is False, so the good rows are kept and the bad ones are inspectable.
    A file that would change more than a small share of the rows it already stored is refused
    (store.RewriteError, nothing written) unless allow_rewrite; changed values go to value_history.
    refresh=False skips `refresh_derived` after the commit, for a caller that stores many batches in a row
    (a connector's pages) and refreshes once after the last one.
    """
    report = RunReport(run_id=uuid.uuid4().hex[:12])
    pause_n, pause_s = _pause()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    store.run_id, store.allow_rewrite = report.run_id, allow_rewrite
    log.info("ingest run %s into %s", report.run_id, store.path)
    try:
        _run(store, jobs, report, now, pause_n, pause_s, progress)
    finally:
        store.run_id, store.allow_rewrite = None, True
    log.info("ingest run %s committed: %s", report.run_id, report.summary())
    if refresh:
        report.history, report.snapshots = refresh_derived(store)
    if report.quarantined and not allow_quarantine:
        raise QuarantineError(f"{report.summary()}. Quarantined rows are in the `quarantine` table "
                              "(`btcstress quarantine`); rerun with --allow-quarantine to accept.")
    return report


def refresh_derived(store: Store) -> tuple[dict, dict]:
    """After data was committed: the stored histories (finding_history) from the earliest instant changed
    since their watermark, then the whole snapshots the brief reads at the newest day instants
    (history/snapshots.py). Each in its own transaction; a failure leaves that state stale (readers then
    compute, and say so) and is reported, never raised: the data is committed. Returns (history report,
    snapshots report). Because the refresh starts from the rows ingested since its watermark, deferring it
    (a connector's pages, `run(refresh=False)`) loses nothing, however many commits came before."""
    from btcstress.history import materialize, snapshots
    try:
        history = materialize.refresh(store)
    except Exception as exc:  # noqa: BLE001 - the data is committed; a failed refresh leaves the state stale
        history = {"error": f"{type(exc).__name__}: {exc}"}
        log.warning("finding_history not refreshed (readers compute until the next ingest): %s",
                    history["error"], exc_info=log.isEnabledFor(logging.DEBUG))
    try:
        snaps = snapshots.refresh(store)
    except Exception as exc:  # noqa: BLE001 - as above
        snaps = {"error": f"{type(exc).__name__}: {exc}"}
        log.warning("finding_snapshots not refreshed (briefs compute): %s", snaps["error"],
                    exc_info=log.isEnabledFor(logging.DEBUG))
    return history, snaps


def _run(store: Store, jobs: Iterable[Job], report: RunReport, now: dt.datetime, pause_n: int, pause_s: float,
         progress: Callable[[str], None] | None) -> None:
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
            _log_file(report.files[-1], parsed, started)
            if n == pause_n:
                time.sleep(pause_s)
        # Flags are derived from everything stored: recomputed in the same transaction.
        from btcstress import quality
        report.flags = quality.refresh(store)
        log.info("quality: %d suspect values flagged", report.flags)


def _log_file(f: FileReport, parsed: Parsed, started: dt.datetime) -> None:
    """One INFO line per file; each quarantined row and each skip reason at DEBUG (-vv)."""
    r = f.result
    log.info("%s: %d rows in -> %d new, %d updated, %d unchanged, %d quarantined, %d skipped (%.2f s)", f.file,
             f.lines_in, r.new, r.updated, r.unchanged, f.quarantined, sum(f.skipped.values()),
             (dt.datetime.now(dt.timezone.utc) - started).total_seconds())
    if log.isEnabledFor(logging.DEBUG):
        for q in parsed.quarantine:
            log.debug("%s line %s field %s quarantined: %s", q["file"], q["line"], q["field"], q["reason"])
        for reason, n in f.skipped.items():
            log.debug("%s: %d skipped: %s", f.file, n, reason)


# How a complete last line may end without a line break: a closed quoted field, a closed JSON value.
_CLOSED = ('"', "}", "]")


def _parse(path: Path | None, origin: str, parser) -> Parsed:
    if path is None:
        raise BtcstressError(f"{origin}: nothing to parse")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{Path(path).name}: not UTF-8 text (byte {exc.start})") from None
    except IsADirectoryError:
        raise InputError(f"{Path(path).name} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{Path(path).name}: cannot read it ({exc.strerror})") from None
    text, cut = split_cut_line(text)
    parsed = parser(text, origin)
    if cut is not None:
        lineno, raw = cut
        parsed.lines_in += 1
        target = next(iter(parsed.rows), None) or next((q["target"] for q in parsed.quarantine), "*")
        parsed.quarantine.append({
            "target": target, "file": origin, "line": lineno, "field": "*", "value": raw[-40:],
            "reason": "last line has no line break: the file looks cut mid-line (re-download it; if the line "
                      "is complete, end the file with a line break)", "raw": raw})
    return parsed


def split_cut_line(text: str) -> tuple[str, tuple[int, str] | None]:
    """(text without its last line, (line number, last line)) when the file ends mid-line.

    A file that does not end with a line break may have been cut while it was written or copied:
    a number cut short still parses (8.6e20 -> 8.6e2), so the last line is not trusted. It is kept
    when it ends a closed structure (a quoted field, a JSON object) or the file is HTML. A file of a
    single line (a header, a JSON document) is left alone.
    """
    if not text or text.endswith(("\n", "\r")) or text.lstrip().startswith("<"):
        return text, None
    head, sep, last = text.rpartition("\n")
    if not sep or last.rstrip().endswith(_CLOSED) or not last.strip():
        return text, None
    return head + "\n", (head.count("\n") + 2, last)


def _pause() -> tuple[int, float]:
    raw = os.environ.get(PAUSE_ENV)
    if not raw:
        return -1, 0.0
    n, s = raw.split(":")
    return int(n), float(s)


def events_job() -> Job:
    """The packaged events table, ingested with every snapshot or live run."""
    from btcstress.parsers import events
    return (None, events.ORIGIN, events.packaged())
