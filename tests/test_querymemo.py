"""btcstress.querymemo: inside one scope a repeated query runs once and each caller gets its own copy;
outside a scope, and in the next scope, every query runs (a change to the data is seen)."""

from __future__ import annotations

import ibis
import pytest
from ibis.backends.duckdb import Backend

from btcstress import querymemo


@pytest.fixture
def con(monkeypatch):
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE TABLE t (k INTEGER, v DOUBLE)")
    con.raw_sql("INSERT INTO t VALUES (1, 1.5), (2, 2.5), (3, 4.0)")
    querymemo.install(con)
    runs = []
    plain = Backend.execute

    def counted(self, expr, **kw):
        runs.append(expr)
        return plain(self, expr, **kw)
    monkeypatch.setattr(Backend, "execute", counted)
    con.runs = runs
    return con


def test_a_repeat_in_one_scope_runs_once_and_each_caller_gets_a_copy(con):
    t = con.table("t")
    with querymemo.scope():
        a = t.filter(t.k >= 2).execute()
        a.loc[0, "v"] = -1.0  # a caller changing its frame must not change the next caller's
        b = con.table("t").filter(con.table("t").k >= 2).execute()  # an equal expression built anew
        total = t.v.sum().execute()
        assert t.v.sum().execute() == total == 8.0
    assert len(con.runs) == 2
    assert list(b["v"]) == [2.5, 4.0]


def test_other_queries_and_other_limits_are_not_taken_for_each_other(con):
    t = con.table("t")
    with querymemo.scope():
        assert len(t.filter(t.k >= 2).execute()) == 2
        assert len(t.filter(t.k >= 3).execute()) == 1
        assert len(t.filter(t.k >= 2).execute(limit=1)) == 1
    assert len(con.runs) == 3


def test_outside_a_scope_and_in_the_next_scope_the_data_is_read_again(con):
    t = con.table("t")
    assert t.count().execute() == 3
    assert t.count().execute() == 3
    with querymemo.scope():
        assert t.count().execute() == 3
    con.raw_sql("INSERT INTO t VALUES (4, 8.0)")
    with querymemo.scope():
        assert t.count().execute() == 4
    assert len(con.runs) == 4
