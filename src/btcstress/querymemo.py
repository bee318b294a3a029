"""Within one computation at one instant, the same Ibis query is run once.

Why: the areas of a snapshot ask some questions more than once (which daily series is the price
history at T, which market is primary, the composite's last day: 11 of ~160 queries per instant were
repeats). Each answer is a pure function of the store and the expression (the instant is a literal
in it), and the store does not change during one `metrics.compute`, so a repeat may take the first
answer.

How: `install(backend)` (done with the compile cache on every Store and SparkStore connection) routes
the backend's `execute` through the memo of the innermost `scope()`; outside a scope it executes as
usual. The key is the expression's operation graph (Ibis operations compare by structure) plus the
call's limit and parameters; a hit returns a copy (a DataFrame or Series deep-copied), so a caller that
changes its result cannot change another's. The memo dies with its scope: nothing outlives one
computation, so an ingest between two computations is always seen.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

import pandas as pd

_SCOPE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("btcstress_query_memo", default=None)


@contextlib.contextmanager
def scope():
    """Repeated queries inside the block are run once (see the module)."""
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _copy(v: Any) -> Any:
    return v.copy(deep=True) if isinstance(v, (pd.DataFrame, pd.Series)) else v


def install(backend) -> None:
    """Route `backend.execute` through the active scope's memo (idempotent)."""
    if getattr(backend, "_btcstress_query_memo", False):
        return
    def plain(expr, **kwargs):  # the class's execute (or the DuckDB route beside it), looked up per call
        fast = getattr(backend, "_btcstress_execute", None)
        if fast is not None and not kwargs.get("params") and set(kwargs) <= {"params", "limit"}:
            result = fast(expr, limit=kwargs.get("limit"))
            if result is not NotImplemented:
                return result
        return type(backend).execute(backend, expr, **kwargs)

    def execute(expr, /, *, params=None, limit=None, **kwargs):
        memo = _SCOPE.get()
        if memo is None or params or kwargs:
            return plain(expr, params=params, limit=limit, **kwargs)
        key = (id(backend), expr.op(), limit)
        try:
            hit = key in memo
        except TypeError:  # an unhashable argument somewhere in the graph: not memoised
            return plain(expr, params=params, limit=limit)
        if not hit:
            memo[key] = plain(expr, params=params, limit=limit)
        return _copy(memo[key])

    backend.execute = execute
    backend._btcstress_query_memo = True
