"""The compile cache (btcstress.sqlcache): a cached text is always the SQL Ibis itself compiles for that
expression, a different shape never gets another's text, and results are the rows' own."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
import pytest

from btcstress import sqlcache

T0 = dt.datetime(2026, 2, 1)
ROWS = pd.DataFrame({
    "name": ["a", "a", "b", "b", "a"],
    "available_at": [T0 + dt.timedelta(hours=h) for h in (0, 5, 10, 20, 30)],
    "value": [1.5, -2.0, 4.0, 8.25, 16.0],
})


def connection(rows: pd.DataFrame = ROWS, cache: sqlcache.CompileCache | None = None):
    con = ibis.duckdb.connect()
    con.con.register("_rows", rows)  # (Ibis 12's create_table from a DataFrame fails on DuckDB 1.5)
    for name in ("obs", "obs_copy"):
        con.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _rows")
    con.con.unregister("_rows")
    cache = cache if cache is not None else sqlcache.CompileCache()
    sqlcache.install(con, cache)
    return con, cache


def plain_sql(con, expr) -> str:
    return type(con).compile(con, expr)  # Ibis's own compile, around the cache


def cut(t, at: dt.datetime, below: float):
    t = t.filter((t.available_at <= at) & (t.value <= below))
    return t.aggregate(n=t.count(), total=t.value.sum())


def expected(rows: pd.DataFrame, at: dt.datetime, below: float) -> tuple[int, float]:
    kept = [v for a, v in zip(rows.available_at, rows.value) if a <= at and v <= below]
    return len(kept), sum(kept)


@pytest.mark.parametrize("at,below", [(T0 + dt.timedelta(hours=6), 10.0), (T0 + dt.timedelta(hours=25), 5.0),
                                      (T0 + dt.timedelta(hours=40), 100.0)])
def test_same_shape_other_values_is_a_hit_with_ibis_text_and_right_rows(at, below):
    con, cache = connection()
    first = cut(con.table("obs"), T0, 1.0)
    assert con.compile(first) == plain_sql(con, first)
    expr = cut(con.table("obs"), at, below)
    assert con.compile(expr) == plain_sql(con, expr)
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)
    row = expr.execute().iloc[0]
    n, total = expected(ROWS, at, below)
    assert int(row.n) == n and float(row.total) == pytest.approx(total)


def test_different_shapes_never_share_an_entry():
    con, cache = connection()
    t, u = con.table("obs"), con.table("obs_copy")
    at, at2 = T0 + dt.timedelta(hours=6), T0 + dt.timedelta(hours=7)
    exprs = [
        cut(t, at, 10.0),
        cut(u, at, 10.0),                                           # another table, same schema
        t.filter(t.available_at < at).count().as_table(),           # another operator
        t.filter(t.available_at <= at).count().as_table(),
        t.filter((t.available_at <= at) & (t.name == "a")).count().as_table(),  # a string literal
        t.filter((t.available_at <= at) & (t.name == "b")).count().as_table(),
        t.filter((t.available_at >= at) & (t.available_at <= at)).count().as_table(),   # one slot ...
        t.filter((t.available_at >= at) & (t.available_at <= at2)).count().as_table(),  # ... or two
        t.filter(t.value <= -3.0).count().as_table(),               # a negative float is another node
        t.filter(t.value <= 0.0).count().as_table(),                # zero is not a variable ...
        t.filter(t.value <= -0.0).count().as_table(),               # ... and -0.0 is not 0.0
        t.filter(t.value <= float("nan")).count().as_table(),       # NaN is not a variable
        t.filter(t.value <= float("inf")).count().as_table(),
        t.select(t.value).limit(2),                                 # integers stay in the key
        t.select(t.value).limit(3),
    ]
    keys = set()
    for e in exprs:
        assert con.compile(e) == plain_sql(con, e)
        keys.add(sqlcache.shape(e.as_table().op())[0])
    assert len(keys) == len(exprs) == cache.stats.misses + cache.stats.hits
    assert cache.stats.hits == 0


def test_equal_then_unequal_slots_give_each_its_own_text():
    con, cache = connection()
    t = con.table("obs")

    def between(a, b):
        return t.filter((t.available_at >= a) & (t.available_at <= b)).count().as_table()

    same = between(T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=5))
    apart = between(T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=20))
    again = between(T0 + dt.timedelta(hours=10), T0 + dt.timedelta(hours=30))
    for e in (same, apart, again):
        assert con.compile(e) == plain_sql(con, e)
    assert cache.stats.hits == 1  # `again` has `apart`'s shape
    want = sum(T0 + dt.timedelta(hours=10) <= a <= T0 + dt.timedelta(hours=30) for a in ROWS.available_at)
    assert int(again.execute().iloc[0, 0]) == want


def test_sentinel_text_inside_other_text_is_not_templated():
    con, cache = connection()
    t = con.table("obs")
    probe = sqlcache._sentinel(ibis.literal(T0).op(), 0)
    text = con.compiler.visit_Literal(probe, value=probe.value, dtype=probe.dtype).sql(dialect=con.dialect)
    e = t.filter((t.available_at <= T0) & (t.name != text)).count().as_table()
    assert con.compile(e) == plain_sql(con, e)
    assert cache.stats.uncached == 1 and cache.stats.hits == 0


def test_cache_is_bounded_least_recently_used_first():
    con, cache = connection(cache=sqlcache.CompileCache(maxsize=3))
    t = con.table("obs")
    exprs = [t.select(t.value).limit(n) for n in range(1, 6)]
    for e in exprs:
        con.compile(e)
    assert len(cache) == 3 and cache.stats.misses == 5
    con.compile(exprs[-1])
    assert cache.stats.hits == 1
    con.compile(exprs[0])  # evicted: compiled again
    assert cache.stats.misses == 6 and len(cache) == 3


def test_in_memory_tables_and_ibis_params_are_compiled_as_usual():
    con, cache = connection()
    m = ibis.memtable(ROWS)
    e = m.filter(m.available_at <= T0 + dt.timedelta(hours=6)).count().as_table()
    assert con.compile(e) == plain_sql(con, e)
    assert int(e.execute().iloc[0, 0]) == 2 and len(cache) == 0
    t = con.table("obs")
    p = ibis.param("timestamp")
    q = t.filter(t.available_at <= p).count()
    assert q.execute(params={p: T0 + dt.timedelta(hours=12)}) == 3 and len(cache) == 0


def test_connections_share_shapes_but_each_reads_its_own_rows():
    shared = sqlcache.CompileCache()
    con1, _ = connection(ROWS, shared)
    other = ROWS.assign(value=ROWS.value * 10)
    con2, _ = connection(other, shared)
    at = T0 + dt.timedelta(hours=25)
    r1 = cut(con1.table("obs"), at, 50.0).execute().iloc[0]
    r2 = cut(con2.table("obs"), at, 50.0).execute().iloc[0]
    assert shared.stats.hits == 1 and shared.stats.misses == 1
    assert (int(r1.n), float(r1.total)) == expected(ROWS, at, 50.0)
    assert (int(r2.n), float(r2.total)) == expected(other, at, 50.0)


def test_ibis_default_limit_is_part_of_the_key(monkeypatch):
    con, cache = connection()
    t = con.table("obs")
    e = t.filter(t.available_at <= T0 + dt.timedelta(hours=40))
    assert len(e.execute()) == 5
    monkeypatch.setattr(ibis.options.sql, "default_limit", 2)
    assert len(e.execute()) == 2
    assert con.compile(e, limit="default") == type(con).compile(con, e, limit="default")
    assert cache.stats.hits == 1 and cache.stats.misses == 2


def test_off_compiles_as_ibis_does(monkeypatch):
    con, cache = connection()
    monkeypatch.setenv(sqlcache.ENV, "off")
    e = cut(con.table("obs"), T0, 1.0)
    assert con.compile(e) == plain_sql(con, e) and len(cache) == 0


def test_every_area_at_two_instants_compiles_exactly_as_ibis(snapshot_db, monkeypatch):
    """Verify mode compiles each query both ways and raises on any difference, and checks each result
    of the DuckDB route (btcstress.duckexec) against Ibis's `execute`: all findings at two off-grid
    instants (the second mostly from the cache)."""
    from btcstress import metrics
    from btcstress.store import Store

    from btcstress import duckexec
    monkeypatch.setenv(sqlcache.ENV, "verify")
    before = sqlcache.Stats(**vars(sqlcache.CACHE.stats))
    routed = duckexec.STATS["routed"]
    with Store(snapshot_db, read_only=True) as s:
        for at in (dt.datetime(2025, 11, 3, 14, 17, tzinfo=dt.timezone.utc),
                   dt.datetime(2025, 11, 4, 9, 41, tzinfo=dt.timezone.utc)):
            fs = metrics.compute(s, at)
            assert len(fs.findings) > 100
    assert sqlcache.CACHE.stats.hits - before.hits > 100
    # Each result also checked against Ibis's execute. A computation runs ~59 queries since session 5's
    # fewer, bigger reads (116 before); nearly all of them must take the route, at both instants.
    assert duckexec.STATS["routed"] - routed > 2 * 50
    assert not math.isnan(float(len(sqlcache.CACHE)))
