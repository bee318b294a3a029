"""A compile cache for Ibis SQL backends: the same metric expression at another instant reuses its SQL.

Why: a snapshot runs ~160 small Ibis queries, and most of their time was Ibis compiling each
expression to SQL (graph rewrites), not the engine running it. The as-of instant enters the
expressions as literals (`available_at <= T`, `date >= T - 365 days`, `value <= x` for a z-score),
so every snapshot compiled ~160 expressions never seen before, though their *shape* repeats.

How: `install(backend)` routes the backend's `compile` through `CACHE`. An expression's key is its
operation graph (Ibis operations are immutable values compared by structure) written out as a tuple,
with three changes: each *variable literal* (a timestamp, a date or a finite float) is a numbered
slot, each database table is its name, schema and namespace without its connection, and the
compiler class, dialect, limit and Ibis's select-fusion option are added. A miss compiles the
expression with each variable literal replaced by a sentinel value (an ordinary Ibis compile) and
keeps the SQL cut at the sentinels' text; a hit fills the cuts with each literal's SQL, rendered by
the compiler's own `visit_Literal`, so the text is the one an uncached compile gives.
`BTCSTRESS_COMPILE_CACHE=verify` compiles both ways and raises CacheMismatch on any difference (a
test runs every area so); `=off` compiles as Ibis does.

What keeps a cached text honest:
- everything of the expression but the variable literals' values is in the key: columns, other
  literals (integers, strings, intervals, NaN), table schemas, which slots are equal to each other
  (equal literals are one node in Ibis's graph, so one slot), and a float's sign (a negative number
  is another SQL node);
- a shape is templated only if each sentinel's text occurs in the SQL exactly as often as its node
  occurs in the compiled SQL tree (no accidental match elsewhere); otherwise it is compiled uncached
  every time, as are expressions over in-memory tables (their names are unique: never reused) and
  calls with Ibis's own `params`;
- the cache is an LRU of MAXSIZE shapes shared by all connections: the text names tables, and what a
  name holds is the executing connection's business, exactly as without the cache.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import ibis.expr.operations as ops
import sqlglot as sg
from ibis import options

from btcstress.duckexec import _HOOKED

MAXSIZE = 2048  # shapes; a snapshot of every area uses ~150-200
ENV = "BTCSTRESS_COMPILE_CACHE"  # on (default) | off | verify
_SENTINEL_TS = dt.datetime(1001, 1, 1)
_SENTINEL_DATE = dt.date(1001, 1, 1)


class CacheMismatch(AssertionError):
    """Under verify: the cached SQL differed from an uncached compile (a bug in this module)."""


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    uncached: int = 0  # compiled as without the cache (in-memory tables, untemplatable shapes)


def mode() -> str:
    value = os.environ.get(ENV, "on").strip().lower()
    return value if value in ("on", "off", "verify") else "on"


def _variable(op) -> bool:
    """A literal whose value may change from one instant to the next while the query's shape stays:
    a naive timestamp or a date (the instant and windows around it) or a finite non-zero float (a
    price, a value a z-score is taken of). Integers, strings and the rest stay in the key: they pick
    columns, windows, subjects. (Equal variable literals then always have the same SQL text: no
    -0.0 against 0.0, no one instant in two time zones.)"""
    if not isinstance(op, ops.Literal) or op.value is None:
        return False
    dtype, value = op.dtype, op.value
    if dtype.is_timestamp():
        return getattr(value, "tzinfo", None) is None
    return dtype.is_date() or (dtype.is_floating() and math.isfinite(value) and value != 0)


def _negative(op: ops.Literal) -> bool:
    return op.dtype.is_floating() and math.copysign(1.0, op.value) < 0


def _sentinel(op: ops.Literal, slot: int) -> ops.Literal:
    """A value of the literal's type (and sign) that real queries do not contain, one per slot."""
    dtype = op.dtype
    if dtype.is_date():
        value = _SENTINEL_DATE + dt.timedelta(days=slot)
    elif dtype.is_timestamp():
        value = _SENTINEL_TS + dt.timedelta(seconds=slot + 1)
    else:
        value = float(f"9.87654321{slot:06d}e+77") * (-1.0 if _negative(op) else 1.0)
    return ops.Literal(value, dtype)


class _Template:
    """SQL text cut at the slots: pieces[0] + text(slots[0]) + pieces[1] + ... + pieces[-1]."""

    __slots__ = ("pieces", "slots")

    def __init__(self, pieces: list[str], slots: list[int]):
        self.pieces, self.slots = pieces, slots

    def fill(self, texts: list[str]) -> str:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:]):
            out += (texts[slot], piece)
        return "".join(out)


_UNTEMPLATABLE = "untemplatable"
_REF, _SEQ, _MAP, _VAR, _TABLE = (object() for _ in range(5))  # tags no argument value equals


def shape(root) -> tuple[tuple, list[ops.Literal]] | None:
    """The expression graph as a hashable value, and its variable literals in slot order (None for
    a graph over an in-memory table or with an operation Ibis's pre-execute hooks act on: a UDF, a
    geospatial operation; btcstress.duckexec relies on a cached text meaning neither is there).

    Nodes are numbered in a depth-first post-order over their arguments, which depends only on the
    structure; equal nodes are one node, as in Ibis's own graph."""
    index: dict = {}
    rows: list[tuple] = []
    literals: list[ops.Literal] = []

    def enc(v):
        if isinstance(v, ops.Node):
            return (_REF, index[v])
        if isinstance(v, (tuple, list)):
            return (_SEQ, *map(enc, v))
        if isinstance(v, dict):
            return (_MAP, *((enc(k), enc(x)) for k, x in v.items()))
        return v

    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if node in index:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.__children__) if c not in index)
            continue
        if _variable(node):
            row = (_VAR, node.dtype, _negative(node), len(literals))
            literals.append(node)
        elif isinstance(node, ops.DatabaseTable):
            row = (_TABLE, node.name, node.schema, node.namespace)
        elif isinstance(node, ops.Literal) and isinstance(node.value, (float, dt.datetime)):
            row = (ops.Literal, node.dtype, type(node.value), repr(node.value))  # -0.0 is not 0.0 here
        elif isinstance(node, _HOOKED):  # an in-memory table (a unique name), a UDF, a geospatial op
            return None
        else:
            row = (type(node), *map(enc, node.__args__))
        index[node] = len(rows)
        rows.append(row)
    return tuple(rows), literals


class CompileCache:
    """Compiled SQL templates by expression shape, LRU-bounded, thread-safe."""

    def __init__(self, maxsize: int = MAXSIZE):
        self.maxsize = maxsize
        self._entries: OrderedDict = OrderedDict()
        self._texts: dict = {}
        self._lock = threading.Lock()
        self.stats = Stats()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._texts.clear()
            self.stats = Stats()

    def compile(self, backend, expr, *, limit=None, pretty: bool = False) -> str | None:
        """The SQL `backend.compile(expr, limit=limit, pretty=pretty)` gives, from the cache; None when
        the expression is not cached (the caller compiles it as usual)."""
        root = expr.as_table().op()
        try:
            found = shape(root)
            if limit == "default":  # Ibis's Expr.execute passes this: the option decides
                limit = ("default", options.sql.default_limit)
            key = None if found is None else (type(backend.compiler), backend.dialect, found[0], limit, pretty,
                                               options.sql.fuse_selects)
            hash(key)
        except (KeyError, TypeError):  # an argument outside Ibis's usual containers: not cached
            found = key = None
        if key is None:
            self.stats.uncached += 1
            return None
        literals = found[1]
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            entry = self._template(backend, root, literals, limit[0] if isinstance(limit, tuple) else limit, pretty)
            with self._lock:
                self.stats.misses += 1
                self._entries[key] = entry
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        elif entry is not _UNTEMPLATABLE:
            self.stats.hits += 1
        if entry is _UNTEMPLATABLE:
            self.stats.uncached += 1
            return None
        return entry.fill([self._literal_text(backend, lit) for lit in literals])

    def _literal_text(self, backend, lit: ops.Literal) -> str:
        """A literal's SQL as the compiler writes it (memoised: the as-of instant is in most queries)."""
        key = (type(backend.compiler), backend.dialect, lit)
        text = self._texts.get(key)
        if text is None:
            text = backend.compiler.visit_Literal(lit, value=lit.value, dtype=lit.dtype).sql(dialect=backend.dialect)
            if len(self._texts) >= 8 * self.maxsize:
                self._texts.clear()
            self._texts[key] = text
        return text

    @staticmethod
    def _template(backend, root, literals, limit, pretty):
        """Compile `root` with its variable literals replaced by sentinels; cut the SQL at their text."""
        compiler, dialect = backend.compiler, backend.dialect
        sentinels = [_sentinel(lit, i) for i, lit in enumerate(literals)]
        masked = root.replace(dict(zip(literals, sentinels))) if literals else root
        tree = compiler.to_sqlglot(masked.to_expr(), limit=limit)
        nodes = [compiler.visit_Literal(s, value=s.value, dtype=s.dtype) for s in sentinels]
        counts = [sum(1 for n in tree.find_all(type(node)) if n == node) for node in nodes]
        sql = tree.sql(dialect=dialect, pretty=pretty, copy=False, unsupported_level=sg.ErrorLevel.RAISE)
        texts = [node.sql(dialect=dialect) for node in nodes]
        if not texts:
            return _Template([sql], [])
        if len(set(texts)) != len(texts):
            return _UNTEMPLATABLE
        cut = re.split("(" + "|".join(map(re.escape, texts)) + ")", sql)
        pieces, slots = cut[0::2], [texts.index(t) for t in cut[1::2]]
        if any(slots.count(i) != n or n == 0 for i, n in enumerate(counts)):
            return _UNTEMPLATABLE
        return _Template(pieces, slots)


CACHE = CompileCache()


def install(backend, cache: CompileCache = CACHE) -> None:
    """Route an Ibis SQL backend's `compile` through `cache` (idempotent; the mode is read per call),
    and its `execute` through btcstress.querymemo (a query repeated within one computation runs once)."""
    from btcstress import querymemo
    querymemo.install(backend)
    if getattr(backend, "_btcstress_compile_cache", None) is cache or not hasattr(backend, "compiler"):
        return
    plain = type(backend).compile.__get__(backend)

    def compile(expr, /, *, limit=None, params=None, pretty: bool = False):
        how = mode()
        sql = None if how == "off" or params else cache.compile(backend, expr, limit=limit, pretty=pretty)
        if sql is None:
            return plain(expr, limit=limit, params=params, pretty=pretty)
        if how == "verify":
            want = plain(expr, limit=limit, params=params, pretty=pretty)
            if sql != want:
                raise CacheMismatch(f"cached SQL differs from Ibis's:\n{sql}\n--- Ibis:\n{want}")
        else:
            backend._log(sql)
        return sql

    backend.compile = compile
    backend._btcstress_compile_cache = cache
    from btcstress import duckexec
    if duckexec.supported(backend):
        backend._btcstress_execute = lambda expr, limit=None: _execute(backend, cache, expr, limit)


def _execute(backend, cache: CompileCache, expr, limit):
    """A DuckDB query whose SQL is cached, run by btcstress.duckexec (NotImplemented: run it through
    Ibis). Under verify the result is checked against Ibis's `execute`."""
    from btcstress import duckexec
    how = mode()
    if how == "off" or backend._record_batch_readers_consumed:  # (Ibis's hook for a registered reader)
        return NotImplemented
    sql = cache.compile(backend, expr, limit=limit)
    if sql is None:  # not cached: an in-memory table, a UDF, an untemplatable shape
        return NotImplemented
    if how == "verify":
        want = type(backend).compile(backend, expr.as_table(), limit=limit)
        if sql != want:
            raise CacheMismatch(f"cached SQL differs from Ibis's:\n{sql}\n--- Ibis:\n{want}")
    else:
        backend._log(sql)
    result = duckexec.execute(backend, expr, limit=limit, sql=sql)
    if how == "verify":
        duckexec.verify(backend, expr, limit, sql, result)
    return result
