"""Raw capture of the live streams: every message (heartbeats excepted) appended as one line to a gzip
JSONL file per venue per UTC hour, `data/raw/<venue>/<YYYY-MM-DD>/<venue>-<YYYY-MM-DDTHH>.jsonl.gz`,
exactly as received, and read back (a capture cut by a crash yields what is readable) for
`btcstress monitor --replay` and `ingest events`."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any, Iterator


class RawRecorder:
    """Appends raw messages to gzip JSONL files, one per venue per UTC hour."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._open: dict[str, tuple[Path, Any, int]] = {}  # venue -> (path, handle, lines so far)

    def path(self, venue: str, at: dt.datetime) -> Path:
        return self.root / venue / f"{at:%Y-%m-%d}" / f"{venue}-{at:%Y-%m-%dT%H}.jsonl.gz"

    @staticmethod
    def origin(venue: str, path: Path) -> str:
        return f"stream:{venue}/{path.name}"

    def write(self, venue: str, raw: str, at: dt.datetime) -> tuple[str, int]:
        """Record one message; returns (origin, line number in its file)."""
        path = self.path(venue, at)
        cur = self._open.get(venue)
        if cur is None or cur[0] != path:
            if cur is not None:
                cur[1].close()
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = count_lines(path) if path.exists() else 0
            cur = (path, gzip.open(path, "at", encoding="utf-8"), lines)
        p, fh, n = cur
        fh.write(raw.replace("\n", " ").replace("\r", " ") + "\n")
        self._open[venue] = (p, fh, n + 1)
        return self.origin(venue, p), n + 1

    def flush(self) -> None:
        for _, fh, _ in self._open.values():
            fh.flush()

    def close(self) -> None:
        for _, fh, _ in self._open.values():
            fh.close()
        self._open.clear()


def count_lines(path: Path) -> int:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return sum(1 for _ in fh)
    except (EOFError, OSError):  # a capture cut by a crash: count what is readable
        n = 0
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for _ in fh:
                    n += 1
        except (EOFError, OSError):
            pass
        return n


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a .jsonl or .jsonl.gz capture; a capture cut by a crash yields what is readable."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield line.rstrip("\n")
    except EOFError:
        return


def replay_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))
    return [target]
