"""Which engine answers the metrics: DuckDB (the store file, the default) or Spark (a Parquet warehouse
written by `btcstress export parquet`, read through Ibis's PySpark backend).

The seam is small. Metrics only ever call `ctx.table(name)`, which calls `store.table(name, as_of)`:
anything with that method (and `counts()`, `close()`, `ibis`) is a read store, and the metric code
never learns which engine it runs on. `open_read_store` picks one from the command line, the
environment and the config:

    backend:  --backend, else BTCSTRESS_BACKEND, else config `backend:`, else duckdb
    spark:    config `spark: {master, warehouse, conf}`; BTCSTRESS_SPARK_MASTER and BTCSTRESS_WAREHOUSE
              override; master defaults to local[*] (under spark-submit: spark-submit's --master),
              warehouse to data/warehouse. A master starting
              with sc:// is a Spark Connect server.

Commands use it so:

    with backends.open_read_store(db, config, backend) as store:
        fs = metrics.compute(store, t, ...)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

import ibis

from btcstress.errors import BtcstressError, InputError, NoDataError
from btcstress.schema import CLOSE, END_OF_DAY, TABLES, Table

BACKENDS = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
DEFAULT_WAREHOUSE = "data/warehouse"
MANIFEST = "_btcstress.json"
FORMAT = "btcstress-parquet/1"
PARTITION = "month"  # hive partition column: YYYY-MM of the table's time column
TARGET_PARTITION_BYTES = 128 * 2**20  # Spark partitions per table when reading: one per 128 MiB of Parquet

# Spark settings btcstress sets unless the config says otherwise. The session time zone must be UTC:
# the store's timestamps are naive UTC, and Spark would otherwise shift them by the JVM's zone.
SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # Results come back to Python as Arrow batches rather than pickled rows.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
# Only for local masters (one machine): a small shuffle and no web UI.
SPARK_LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
}


@runtime_checkable
class ReadStore(Protocol):
    """What metrics need from a store: tables cut at an instant. Store (DuckDB) and SparkStore both are."""

    ibis: Any

    def table(self, name: str, as_of: dt.datetime | None = None) -> ibis.Table: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


@dataclass
class Settings:
    backend: str = "duckdb"
    master: str = DEFAULT_MASTER
    warehouse: Path = field(default_factory=lambda: Path(DEFAULT_WAREHOUSE))
    conf: dict[str, str] = field(default_factory=dict)


def settings(config: dict[str, Any] | None = None, backend: str | None = None) -> Settings:
    """The backend settings from the command line (`backend`), the environment and the config."""
    config = config or {}
    spark = config.get("spark") or {}
    if not isinstance(spark, dict):
        raise InputError("config `spark:` must be a mapping (master, warehouse, conf)")
    name = (backend or os.environ.get("BTCSTRESS_BACKEND") or config.get("backend") or "duckdb").strip().lower()
    if name not in BACKENDS:
        raise InputError(f"--backend {name!r}: expected one of {', '.join(BACKENDS)}")
    master = os.environ.get("BTCSTRESS_SPARK_MASTER") or spark.get("master") or DEFAULT_MASTER
    warehouse = os.environ.get("BTCSTRESS_WAREHOUSE") or spark.get("warehouse") or DEFAULT_WAREHOUSE
    conf = {str(k): str(v) for k, v in (spark.get("conf") or {}).items()}
    return Settings(backend=name, master=str(master), warehouse=Path(warehouse), conf=conf)


@contextlib.contextmanager
def open_read_store(db: str | os.PathLike | None, config: dict[str, Any] | None = None,
                    backend: str | None = None) -> Iterator[ReadStore]:
    """The read side for a command: the DuckDB store file, or the Spark reader over the warehouse."""
    s = settings(config, backend)
    if s.backend == "duckdb":
        from btcstress.store import Store
        with Store(db, read_only=True) as store:
            yield store
        return
    store = SparkStore(s.warehouse, master=s.master, conf=s.conf)
    try:
        yield store
    finally:
        store.close()


# -- export: the store as partitioned Parquet -------------------------------------------------------

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


# -- Spark ----------------------------------------------------------------------------------------

def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None, app: str = "btcstress"):
    """A SparkSession for `master` (local[*], spark://host:7077, yarn, k8s://..., or sc://host:15002
    for Spark Connect) with btcstress's defaults under the given conf."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise BtcstressError("the spark backend needs pyspark: pip install 'btcstress[spark]'") from exc
    settings_ = dict(SPARK_DEFAULTS)
    if master == DEFAULT_MASTER and os.environ.get("PYSPARK_GATEWAY_PORT"):
        master = ""  # launched by spark-submit: its --master and --conf decide
    if master.startswith("local"):
        settings_.update(SPARK_LOCAL_DEFAULTS)
    settings_.update(conf or {})
    if master.startswith("sc://"):
        builder = SparkSession.builder.remote(master)
        # A Connect server's static settings are its own; only session settings can be set.
        settings_ = {k: v for k, v in settings_.items() if k.startswith("spark.sql.")}
    else:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise BtcstressError("the spark backend needs Java (17 or later): run scripts/ensure-java.sh "
                                 "or install a JRE and set JAVA_HOME")
        builder = SparkSession.builder.master(master) if master else SparkSession.builder
    builder = builder.appName(app)
    for k, v in settings_.items():
        builder = builder.config(k, v)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise BtcstressError(f"cannot start Spark at {master or 'the spark-submit master'}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    with contextlib.suppress(Exception):
        session.sparkContext.setLogLevel("ERROR")
    return session


def spark_schema(t: Table):
    """The canonical table as a Spark schema (naive timestamps as TIMESTAMP_NTZ), plus the partition."""
    from pyspark.sql import types as st
    import pyarrow as pa

    def typ(a: pa.DataType):
        if pa.types.is_timestamp(a):
            return st.TimestampNTZType()
        if pa.types.is_date(a):
            return st.DateType()
        if pa.types.is_floating(a):
            return st.DoubleType()
        if pa.types.is_integer(a):
            return st.LongType()
        if pa.types.is_boolean(a):
            return st.BooleanType()
        return st.StringType()

    return st.StructType([st.StructField(f.name, typ(f.type), True) for f in t.arrow_schema()]
                         + [st.StructField(PARTITION, st.StringType(), True)])


class SparkStore:
    """The read side on Spark: the tables of a Parquet warehouse as Ibis tables on the PySpark
    backend, cut at an instant exactly as Store.table does.

    `warehouse` is a local folder or any URI the cluster reads (hdfs://, s3a://, abfss://, file://).
    Each table is read once with its canonical schema (never inferred), coalesced to about one
    partition per 128 MiB of Parquet, and cached: a brief asks ~150 small questions of the same
    tables. A session already active in this process (a notebook, the test suite) is reused and
    left running; Spark's cache is keyed by the read plan, so a second SparkStore over the same
    warehouse in that session finds the tables already cached.
    """

    def __init__(self, warehouse: str | os.PathLike, *, session=None, master: str = DEFAULT_MASTER,
                 conf: dict[str, str] | None = None, cache: bool = True):
        self.uri = str(warehouse).rstrip("/")
        self.local = "://" not in self.uri or self.uri.startswith("file://")
        self.path = Path(self.uri.removeprefix("file://")) if self.local else None
        if self.local and not (self.path / MANIFEST).is_file():  # fail before starting a JVM
            raise NoDataError(f"no Parquet warehouse at {self.uri}: run `btcstress export parquet {self.uri}` "
                              "first (or set spark.warehouse / BTCSTRESS_WAREHOUSE)")
        if session is None and not master.startswith("sc://"):
            from pyspark.sql import SparkSession
            session = SparkSession.getActiveSession()
        self._owns_session = session is None
        self.session = session if session is not None else spark_session(master, conf)
        self.manifest = self._manifest()
        self.ibis = ibis.pyspark.connect(self.session)
        self.read_only = True
        self._cache = cache
        self._token = uuid.uuid4().hex[:8]
        self._tables: dict[str, ibis.Table] = {}

    def _manifest(self) -> dict[str, Any]:
        where = f"{self.uri}/{MANIFEST}"
        try:
            if self.local:
                text = (self.path / MANIFEST).read_text()
            else:
                text = self.session.read.text(where, wholetext=True).first()[0]
            manifest = json.loads(text)
        except Exception as exc:
            if self._owns_session:
                self.session.stop()
            raise NoDataError(f"cannot read the warehouse manifest {where}: {exc}") from None
        if manifest.get("format") != FORMAT:
            raise NoDataError(f"{where}: unknown format {manifest.get('format')!r} (expected {FORMAT})")
        return manifest

    def _load(self, name: str) -> ibis.Table:
        if name in self._tables:
            return self._tables[name]
        info = self.manifest.get("tables", {}).get(name)
        if name not in TABLES or info is None:
            raise NoDataError(f"table {name} is not in the warehouse {self.uri}")
        schema = spark_schema(TABLES[name])
        if info.get("rows", 0) > 0:
            folder = f"{self.uri}/{name}"
            df = self.session.read.schema(schema).option("basePath", folder).parquet(folder)
            # Many small month files would otherwise make many tiny partitions, each a task per query.
            df = df.coalesce(max(1, math.ceil(info.get("bytes", 0) / TARGET_PARTITION_BYTES)))
        else:
            df = self.session.createDataFrame([], schema)
        if self._cache:
            df = df.cache()
        view = f"btcstress_{name}_{self._token}"
        df.createOrReplaceTempView(view)
        t = self.ibis.table(view)
        self._tables[name] = t
        return t

    def table(self, name: str, as_of: dt.datetime | None = None) -> ibis.Table:
        from btcstress.store import utc_naive
        t = self._load(name)
        if as_of is not None:
            as_of = utc_naive(as_of)
            if prunable(TABLES[name]):  # skip later months' files before reading them
                t = t.filter(t[PARTITION] <= f"{as_of:%Y-%m}")
            t = t.filter(t.available_at <= as_of)
        return t.drop(PARTITION)

    def list_tables(self) -> list[str]:
        return [n for n in TABLES if n in self.manifest.get("tables", {})]

    def counts(self) -> dict[str, int]:
        return {name: int(self.table(name).count().execute()) for name in self.list_tables()}

    def close(self) -> None:
        for name in list(self._tables):
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(f"btcstress_{name}_{self._token}")
        self._tables.clear()
        if self._owns_session:  # stopping the session drops its cache too
            with contextlib.suppress(Exception):
                self.session.stop()

    def __enter__(self) -> "SparkStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
