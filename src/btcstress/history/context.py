"""What a series-first metric sees: every table whole (with available_at), a calendar of instants,
and the rows earlier areas produced; plus the one point-in-time primitive, `known_max`.

`known_max` is the set-based "as of" of this code base: for each instant T of a left table, the
largest value of a column among the data rows published by T (available_at <= T), per group. It is
a union of the instants with the data rows and a running max over available_at, so it is exact
(ties at T count, as `Store.table(name, T)` counts them), O(n log n), and portable (window functions
only: DuckDB and Spark run the same expression; Ibis's PySpark backend has no as-of join).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from btcstress.store import utc_naive


@dataclass
class HistoryContext:
    store: Any  # a read store (backends.ReadStore): Store or SparkStore
    instants: list[dt.datetime]  # naive UTC, ascending, unique
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Rows of the areas already computed (the protocol's columns), so later areas can read
    # price.last_usd at every instant as a snapshot reads ctx.price().
    rows: list[pd.DataFrame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.instants = sorted({utc_naive(t) for t in self.instants})

    def table(self, name: str) -> ibis.Table:
        """The whole table, every row with its available_at (the metric cuts per instant)."""
        return self.store.table(name)

    @property
    def calendar(self) -> ibis.Table:
        """One row per instant: column `as_of` (naive UTC timestamp)."""
        df = pd.DataFrame({"as_of": pd.to_datetime(pd.Series(self.instants, dtype="object")).astype("datetime64[us]")})
        return ibis.memtable(df, schema=ibis.schema({"as_of": "timestamp"}))

    def area_params(self, area: str, defaults: dict[str, Any]) -> dict[str, Any]:
        from btcstress.errors import InputError
        given = self.params.get(area, {})
        unknown = set(given) - set(defaults)
        if unknown:
            raise InputError(f"unknown {area} parameter(s) {sorted(unknown)}; known: {sorted(defaults)}")
        return {**defaults, **given}

    def values(self, id: str, subject: str | None = None) -> pd.DataFrame:
        """An earlier area's finding at every instant: columns as_of, value (NaN when not available)."""
        frames = [r[(r["id"] == id) & ((r["subject"] == subject) if subject else True)] for r in self.rows]
        df = pd.concat(frames) if frames else pd.DataFrame(columns=["as_of", "value"])
        return df[["as_of", "value"]].drop_duplicates("as_of")


def known_max(left: ibis.Table, left_time: str, data: ibis.Table, value: str, *, by: tuple[str, ...] = (),
              data_time: str = "available_at", name: str = "known") -> ibis.Table:
    """`left` plus a column `name`: max(data.value) over the rows of its `by` group with
    data_time <= left_time (null when none). `left` may have any columns; `by` must be in both."""
    vtype = data[value].type().copy(nullable=True)
    types = {b: data[b].type().copy(nullable=True) for b in by}
    keys = left.select(*[left[b].cast(types[b]).name(b) for b in by],
                       _t=left[left_time].cast("timestamp")).distinct()
    lrows = keys.mutate(_v=ibis.null().cast(vtype), _is_left=ibis.literal(1))
    drows = data.select(*[data[b].cast(types[b]).name(b) for b in by], _t=data[data_time].cast("timestamp"),
                        _v=data[value].cast(vtype), _is_left=ibis.literal(0))
    u = lrows.union(drows.select(*lrows.columns))
    w = ibis.window(group_by=[u[b] for b in by] or None, order_by=[u._t, u._is_left], preceding=None, following=0)
    u = u.mutate(_known=u._v.max().over(w)).filter(lambda t: t._is_left == 1)
    u = u.select(*by, _t=u._t, **{name: u._known})
    cond = [left[left_time] == u._t] + [left[b] == u[b] for b in by]
    return left.left_join(u, cond).drop("_t", *[f"{b}_right" for b in by])


def one_per(t: ibis.Table, group: list[str], order: list) -> ibis.Table:
    """The first row of each group in `order` (a total order, so both engines agree)."""
    w = ibis.window(group_by=group, order_by=order)
    return t.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0).drop("_rn")


def ts(v) -> dt.datetime | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()
