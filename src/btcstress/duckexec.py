"""Running an Ibis expression on DuckDB without Ibis's per-query overhead; the result is the one Ibis gives.

Why: a snapshot runs ~115 small queries. With their SQL cached (btcstress.sqlcache), what Ibis still
spends per query besides DuckDB itself is mostly turning a one-row Arrow result into pandas: a
DataFrame built from the Arrow columns, each column converted by dtype into a second DataFrame, and
for a table or a scalar once more (~3.4 ms a query, about as much CPU as DuckDB running it), plus
four walks of the expression graph before executing (memtables, UDFs, record-batch readers,
geospatial extensions).

How: `execute(backend, expr)` takes the cached SQL (the text Ibis compiles), runs it as Ibis does
(`con.sql(sql).to_arrow_table()`) and builds each column once, directly in the dtype Ibis's
conversion ends in. It answers only what it knows it answers exactly and leaves the rest to Ibis:
- the route applies only to an expression whose graph holds no in-memory table, UDF or geospatial
  operation (what Ibis's pre-execute hooks exist for), without Ibis `params`, with its SQL cached;
- a column is built here only for the types and null patterns listed in `_column`; any other column
  (an integer or boolean column with a null, an interval, a struct ...) sends the whole Arrow result
  through Ibis's own conversion (the same functions Ibis's `execute` calls, on the same Arrow table).
`BTCSTRESS_COMPILE_CACHE=verify` also runs Ibis's `execute` and raises ResultMismatch unless the two
results are identical (dtypes, values, NaN/None/NaT, names, index, the scalar's Python type); the
test suite runs every area so (tests/test_duckexec.py). `=off` executes as Ibis does.
Spark and every other backend always go through Ibis.
"""

from __future__ import annotations

import math

import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.types as pat

# Operations Ibis's pre-execute hooks act on: a graph holding one goes through Ibis.
_HOOKED = tuple(c for c in (getattr(ops, "InMemoryTable", None), getattr(ops, "ScalarUDF", None),
                            getattr(ops, "AggUDF", None), getattr(ops, "GeoSpatialUnOp", None),
                            getattr(ops, "GeoSpatialBinOp", None)) if c is not None)
_STR = pd.StringDtype(na_value=np.nan)  # what Ibis makes of a string column under pandas 3


STATS = {"routed": 0, "ibis_conversion": 0}  # queries run here; of those, converted by Ibis's code


class ResultMismatch(AssertionError):
    """Under verify: this route's result differed from Ibis's (a bug in this module)."""


class _Unsupported(Exception):
    pass


def supported(backend) -> bool:
    """The route is for Ibis's DuckDB backend only."""
    from ibis.backends.duckdb import Backend
    return isinstance(backend, Backend)


def execute(backend, expr, *, limit=None, sql: str):
    """`expr`'s result as Ibis's `backend.execute(expr, limit=limit)` gives it, from its SQL `sql`."""
    table = expr.as_table()
    schema = table.schema()
    result = backend.con.sql(sql).to_arrow_table()
    STATS["routed"] += 1
    try:
        columns = {name: _column(col, dtype) for (name, dtype), col in zip(schema.items(), result.columns)}
    except _Unsupported:
        STATS["ibis_conversion"] += 1
        return _ibis_conversion(expr, result, schema)
    return _shape(expr, columns)


def hooked(root) -> bool:
    """Whether the graph holds an operation Ibis's pre-execute hooks must see."""
    return bool(root.find(_HOOKED)) if _HOOKED else False


def _numpy(col: pa.ChunkedArray, dtype: str | None = None) -> np.ndarray:
    """The column as a writable NumPy array (Arrow's may be a read-only view; Ibis's frames are writable)."""
    a = col.to_numpy()
    if dtype is not None and a.dtype != dtype:
        return a.astype(dtype)
    return a if a.flags.writeable else a.copy()


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)  # (np.array would make a list of lists two-dimensional)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _column(col: pa.ChunkedArray, dtype):
    """One result column as an array in the dtype Ibis's conversion gives it (raises _Unsupported
    otherwise). Arrays, not Series: one DataFrame is then built from them (a Series costs ~40 µs)."""
    nulls = col.null_count
    if dtype.is_floating() and pat.is_float64(col.type):
        # Ibis: float64 as is; with a null, Python floats and None, which pandas reads as NaN.
        return _numpy(col)
    if dtype.is_int64() and nulls and nulls == len(col):  # Ibis: None's cast to int64 fails: kept as None
        return _objects([None] * nulls)
    if dtype.is_int64() and not nulls:
        if pat.is_int64(col.type):
            return _numpy(col)
        if pat.is_decimal(col.type) and col.type.scale == 0:  # a SUM of integers (HUGEINT); Ibis casts
            try:
                return _numpy(col.cast(pa.int64()))
            except pa.ArrowInvalid:  # beyond int64: Ibis keeps the Decimals
                raise _Unsupported from None
    if dtype.is_boolean() and pat.is_boolean(col.type) and not nulls:
        return _numpy(col)
    if dtype.is_string() and (pat.is_string(col.type) or pat.is_large_string(col.type)):
        return pd.array(col.to_pylist() if nulls else col.to_pandas(), dtype=_STR)
    if dtype.is_timestamp() and dtype.timezone is None and pat.is_timestamp(col.type) and col.type.tz is None \
            and col.type.unit == "us":
        return _numpy(col, "datetime64[us]")  # (all null: NaT, as Ibis's cast of None's gives)
    if dtype.is_date() and pat.is_date32(col.type):
        return _numpy(col, "datetime64[s]")
    if dtype.is_array() and dtype.value_type.is_string() and pat.is_list(col.type) and len(col):
        # Ibis: the Python lists (None for a null), in an object column
        return _objects(col.to_pylist())
    raise _Unsupported


def _shape(expr, columns: dict):
    """A table, a column or a scalar, as Ibis returns each."""
    if isinstance(expr, ir.Table):
        return pd.DataFrame(columns, copy=False)
    (name, a), = columns.items()
    if isinstance(expr, ir.Column):
        return pd.Series(a, name=name, copy=False)
    value = pd.Series(a, copy=False).iat[0]  # as Ibis's convert_scalar: the first row, NumPy's as Python's
    try:
        return value.item()
    except AttributeError:
        return value


def _ibis_conversion(expr, result: pa.Table, schema):
    """The Arrow result converted by Ibis's own code (what `Backend.execute` does after running)."""
    from ibis.backends.duckdb.converter import DuckDBPandasData
    df = pd.DataFrame({
        name: (col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
               else col.to_pandas())
        for name, col in zip(result.column_names, result.columns)})
    return expr.__pandas_result__(DuckDBPandasData.convert_table(df, schema))


def verify(backend, expr, limit, sql: str, mine) -> None:
    """Raise ResultMismatch unless `mine` is exactly what Ibis's conversion makes of the same Arrow
    result, and Ibis's own `execute` gives the same result (floats to 1e-12 relative: DuckDB's
    parallel sums and means may differ in the last digits from one run of a query to the next)."""
    result = backend.con.sql(sql).to_arrow_table()
    _same(_run(expr, result), _ibis_conversion(expr, result, expr.as_table().schema()), sql, exact=True)
    want = type(backend).execute(backend, expr, limit=limit)
    try:
        _same(mine, want, sql, exact=False)
    except ResultMismatch:
        if not (isinstance(want, pd.DataFrame) and isinstance(mine, pd.DataFrame) and len(want) > 1):
            raise
        _same(_sorted(mine), _sorted(want), sql, exact=False)  # a query without ORDER BY: rows in any order


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in df.columns if df[c].dtype != object]
    return df.sort_values(keys, kind="mergesort", ignore_index=True) if keys else df


def _run(expr, result: pa.Table):
    schema = expr.as_table().schema()
    try:
        return _shape(expr, {name: _column(col, dtype) for (name, dtype), col in zip(schema.items(), result.columns)})
    except _Unsupported:
        return _ibis_conversion(expr, result, schema)


def _same(mine, want, sql: str, *, exact: bool) -> None:
    loose = {} if exact else {"rtol": 1e-12, "atol": 0.0}
    try:
        if isinstance(want, pd.DataFrame):
            assert type(mine) is type(want), (type(mine), type(want))
            pd.testing.assert_frame_equal(mine, want, check_exact=exact, check_column_type=True,
                                          check_index_type=True, check_frame_type=True, **loose)
            for c in want.columns:  # object columns: the same Python types (None is not NaN)
                if want[c].dtype == object:
                    assert [type(v) for v in mine[c]] == [type(v) for v in want[c]], c
        elif isinstance(want, pd.Series):
            assert type(mine) is type(want), (type(mine), type(want))
            pd.testing.assert_series_equal(mine, want, check_exact=exact, check_index_type=True, **loose)
        else:
            assert type(mine) is type(want), (type(mine), type(want))
            same = mine == want or (_nan(mine) and _nan(want)) or (mine is pd.NaT and want is pd.NaT) or (
                not exact and isinstance(want, float) and math.isclose(mine, want, rel_tol=1e-12))
            assert same, (mine, want)
    except AssertionError as exc:
        raise ResultMismatch(f"the DuckDB route's result differs from Ibis's ({exc}) for:\n{sql}") from None


def _nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)
