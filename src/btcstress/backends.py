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
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

import ibis

from btcstress import sqlcache
from btcstress.errors import BtcstressError, InputError, NoDataError
from btcstress.schema import TABLES, Table

BACKENDS = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
DEFAULT_WAREHOUSE = "data/warehouse"
# The warehouse's layout is written by btcstress.parquet_export (re-exported here: one seam for both).
from btcstress.parquet_export import (FORMAT, MANIFEST, PARTITION, ExportResult, claim_folder,  # noqa: E402,F401
                                      export_parquet, foreign_file, partition_column, prunable)
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
        sqlcache.install(self.ibis)  # as on DuckDB: an expression at another instant reuses its SQL
        self.read_only = True
        self.reads: set[str] | None = None  # history.reads_of
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
        if self.reads is not None:  # history.reads_of
            self.reads.add(name)
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
