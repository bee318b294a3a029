"""btcstress.duckexec: a query run on DuckDB without Ibis's per-query overhead gives exactly the result
Ibis's own `execute` gives (dtypes, values, NaN/None/NaT, names, the scalar's Python type), for every
column type and null pattern the metrics produce, and anything else goes through Ibis."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest
from ibis.backends.duckdb import Backend

from btcstress import duckexec, sqlcache

ROWS = """
CREATE TABLE obs (k BIGINT, name VARCHAR, ts TIMESTAMP, day DATE, v DOUBLE, ok BOOLEAN, n BIGINT);
INSERT INTO obs VALUES
  (1, 'a', TIMESTAMP '2026-02-01 10:00:00', DATE '2026-02-01', 1.5, TRUE, 10),
  (2, 'b', TIMESTAMP '2026-02-02 11:30:00.123456', DATE '2026-02-02', -2.25, FALSE, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'a', TIMESTAMP '2026-02-04 00:00:00', DATE '2026-02-04', 8.0, TRUE, 40);
"""


@pytest.fixture
def con():
    con = ibis.duckdb.connect()
    con.con.execute("SET threads = 1")  # one thread: the same query gives the same bits twice
    con.raw_sql(ROWS)
    sqlcache.install(con, sqlcache.CompileCache())
    return con


def exprs(t):
    """Results of every shape (table, column, scalar) and the types and null patterns of the metrics'
    queries: none, some and all values null, and no rows at all."""
    some = t.filter(t.k >= 2)        # a row with nulls in every column but k
    nulls = t.filter(t.k == 3)       # only that row
    none = t.filter(t.k > 99)        # no rows
    out = []
    for part in (t, some, nulls, none):
        out += [part.order_by("k"), part.k, part.name, part.ts, part.day, part.v]
        out.append(part.aggregate(rows=part.count(), total=part.v.sum(), mean=part.v.mean(), first=part.ts.min(),
                                  last_day=part.day.max(), names=part.name.collect(distinct=True),
                                  n=part.n.sum(), big=part.k.sum(), any_ok=part.ok.any()))
        out += [part.v.sum(), part.count(), part.ts.max(), part.day.min(), part.name.max(), part.k.sum()]
        out.append(part.group_by("name").aggregate(n=part.count(), days=part.day.collect()).order_by("name"))
    return out


def ibis_result(con, e):
    return Backend.execute(con, e)  # Ibis's own execute (the class's: around the route)


def test_every_shape_type_and_null_pattern_is_ibis_s_result(con):
    t = con.table("obs")
    before = dict(duckexec.STATS)
    for e in exprs(t):
        mine = con.execute(e)
        duckexec._same(mine, ibis_result(con, e), str(e), exact=True)
        if isinstance(mine, pd.DataFrame) and len(mine):  # writable, as Ibis's frames are
            for c in mine.columns:
                mine.loc[mine.index[0], c] = mine[c].iloc[-1]
    assert duckexec.STATS["routed"] - before["routed"] == len(exprs(t))


def test_a_column_it_does_not_build_is_converted_by_ibis(con):
    t = con.table("obs")
    e = t.filter(t.k >= 2).select("k", "n", "ok").order_by("k")  # integers and booleans with a null
    before = dict(duckexec.STATS)
    mine = con.execute(e)
    assert duckexec.STATS["ibis_conversion"] - before["ibis_conversion"] == 1
    duckexec._same(mine, ibis_result(con, e), str(e), exact=True)
    assert mine["n"].isna().tolist() == [True, True, False] and mine["n"].iloc[2] == 40


def test_in_memory_tables_params_and_off_go_through_ibis(con, monkeypatch):
    before = duckexec.STATS["routed"]
    m = ibis.memtable(pd.DataFrame({"x": [1.0, 2.0]}))
    assert m.x.sum().execute() == 3.0
    t = con.table("obs")
    p = ibis.param("timestamp")
    assert t.filter(t.ts <= p).count().execute(params={p: dt.datetime(2026, 2, 3)}) == 2
    monkeypatch.setenv(sqlcache.ENV, "off")
    assert t.count().execute() == 4
    assert duckexec.STATS["routed"] == before


def test_verify_mode_catches_a_wrong_conversion(con, monkeypatch):
    monkeypatch.setenv(sqlcache.ENV, "verify")
    t = con.table("obs")
    con.execute(t.v.sum())  # agrees
    monkeypatch.setattr(duckexec, "_shape", lambda expr, columns: 0.0)
    with pytest.raises(duckexec.ResultMismatch):
        con.execute(t.v.mean())
