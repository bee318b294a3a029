"""`btcstress export parquet`: the store as a partitioned Parquet warehouse (`<table>/month=YYYY-MM/`)
with a manifest, written atomically table by table, that the Spark backend (btcstress.backends) reads."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btcstress.errors import InputError
from btcstress.schema import CLOSE, END_OF_DAY, TABLES, Table

MANIFEST = "_btcstress.json"
FORMAT = "btcstress-parquet/1"
PARTITION = "month"  # hive partition column: YYYY-MM of the table's time column


def partition_column(t: Table) -> str:
    """The column a table's month partitions count from: its time column, else its first date or
    timestamp key column, else available_at."""
    if t.time_column or t.date_column:
        return t.time_column or t.date_column
    import pyarrow as pa
    for k in t.key:
        typ = t.columns.get(k)
        if typ is not None and (pa.types.is_date(typ) or pa.types.is_timestamp(typ)):
            return k
    return "available_at"


def prunable(t: Table) -> bool:
    """Whether `available_at <= T` implies the partition's month <= T's month, so a reader may skip
    later months: true when the table's rule publishes a row at or after its own time column."""
    return t.publication in (CLOSE, END_OF_DAY)


@dataclass
class ExportResult:
    path: Path
    tables: dict[str, int]


def export_parquet(store, folder: str | os.PathLike) -> ExportResult:
    """Write every canonical table of a DuckDB store to `folder/<table>/month=YYYY-MM/*.parquet`,
    plus a manifest. Each table is written to a temporary folder first and then swapped in, so a
    failed export never leaves a half-written table behind a good manifest.

    Export only writes where it owns the place: a new or empty folder, or one holding its manifest
    (`_btcstress.json`, the marker). A table folder is replaced only when it holds nothing but the
    month folders and Parquet files an export writes; anything else there (a user's file) stops the
    export before it writes or deletes anything.
    """
    out = Path(folder)
    claim_folder(out)
    present = set(store.ibis.list_tables())
    names = [n for n in TABLES if n in present]
    for name in names:
        foreign = foreign_file(out / name)
        if foreign is not None:
            raise InputError(f"export: {out.name}/{name}/ holds {foreign.relative_to(out)}, which btcstress did not "
                             "write; nothing was changed (move it away or export to another folder)")
    _clean_leftovers(out)
    rows: dict[str, int] = {}
    layout: dict[str, dict[str, Any]] = {}
    for name in names:
        t = TABLES[name]
        col = partition_column(t)
        expr = store.ibis.table(name)
        expr = expr.mutate(**{PARTITION: expr[col].cast("timestamp").strftime("%Y-%m")})
        n = int(expr.count().execute())
        tmp = out / f".{name}.{uuid.uuid4().hex}"
        if n:
            # DuckDB's COPY ... (PARTITION_BY month): one folder per month, the column kept out of the files.
            store.ibis.to_parquet(expr, tmp, partition_by=PARTITION)
        else:
            tmp.mkdir()
        final = out / name
        old = out / f".{name}.old.{uuid.uuid4().hex}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        rows[name] = n
        size = sum(f.stat().st_size for f in final.rglob("*.parquet"))
        layout[name] = {"rows": n, "bytes": size, "partition_by": col, "prunable": prunable(t)}
    _write_manifest(out, {"format": FORMAT,
                          "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          "store": Path(str(getattr(store, "path", ""))).name, "partition": PARTITION,
                          "tables": layout, "complete": True})
    return ExportResult(out, rows)


_OURS = re.compile(r"month=[^/]+/[^/]+\.parquet")
_LEFTOVER = re.compile(r"\.(?:[a-z_]+(?:\.old)?\.[0-9a-f]{32}|_btcstress\.json\.[0-9a-f]{32})")


def claim_folder(out: Path) -> None:
    """Make sure `out` is ours to write: new, empty, or marked by an earlier export's manifest."""
    if out.exists() and not out.is_dir():
        raise InputError(f"export: {out} exists and is not a folder")
    if out.is_dir() and not (out / MANIFEST).is_file() and not all(_ours(p) for p in out.iterdir()):
        raise InputError(f"export: {out} is not empty and holds no {MANIFEST}: btcstress writes only into a new or "
                         "empty folder, or one it exported to before")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MANIFEST).is_file():  # the marker first, so an export killed mid-way left an owned folder
            _write_manifest(out, {"format": FORMAT, "exported_at": None, "partition": PARTITION, "tables": {},
                                  "complete": False})
        probe = out / f".{MANIFEST}.{uuid.uuid4().hex}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"export: cannot write into {out} ({exc.strerror})") from None


def _ours(p: Path) -> bool:
    """An entry an export (maybe killed) wrote: its temporary folders, or a table folder of its files."""
    return bool(_LEFTOVER.fullmatch(p.name)) or (p.name in TABLES and p.is_dir() and foreign_file(p) is None)


def _write_manifest(out: Path, manifest: dict) -> None:
    tmp = out / f".{MANIFEST}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out / MANIFEST)  # atomic: a reader sees the old manifest or the new one


def foreign_file(folder: Path) -> Path | None:
    """The first file under a table folder that an export would not have written (None if all ours)."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return folder
    for f in sorted(folder.rglob("*")):
        if (f.is_file() or f.is_symlink()) and not _OURS.fullmatch(f.relative_to(folder).as_posix()):
            return f
    return None


def _clean_leftovers(out: Path) -> None:
    """Temporary folders and manifests of an export killed mid-way (hidden, named by a uuid): ours."""
    for p in out.iterdir():
        if not _LEFTOVER.fullmatch(p.name):
            continue
        if p.is_dir():
            if foreign_file(p) is None:
                shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
