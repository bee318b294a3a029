"""What the MCP tools answer, as plain functions over a read-only store (no MCP types here, so the
answers are testable without a client and reusable).

Every answer is a dict carrying its provenance: findings come with their sources, method and params;
the brief ends with its sources; verdicts name the finding they compared; the catalogues say where
their definitions come from. Bad arguments raise InputError (the server turns it into a tool error).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from btcstress import config as cfg
from btcstress import envelope
from btcstress.errors import InputError, NoDataError
from btcstress.findings import Finding, FindingSet, iso

MAX_PRICE = 10_000_000.0  # USD: above this a "price" is a typo, not a scenario


class Answers:
    """One store (opened read-only for each question, so an ingest in another process can take it
    between questions), its parameters and a small cache of finding sets keyed by the store file's
    version: an ingest makes the next question recompute."""

    def __init__(self, db: str | os.PathLike | None = None, *, config: dict[str, Any] | None = None,
                 cache_size: int = 16):
        from btcstress.store import default_db_path
        self.db = Path(db) if db is not None else default_db_path()
        self.config = config or {}
        self.params = cfg.params(self.config, [])
        # DuckDB connections are not thread-safe and the SDK runs sync tools in worker threads.
        self.lock = threading.RLock()
        self.cache: LRUCache = LRUCache(maxsize=max(1, cache_size))

    # -- the store --------------------------------------------------------------------------------

    def _version(self) -> tuple:
        out = []
        for p in (self.db, self.db.with_name(self.db.name + ".wal")):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def _open(self):
        from btcstress.store import Store
        if not self.db.exists():
            raise NoDataError(f"no store at {self.db}: run `btcstress ingest snapshot` first")
        return Store(self.db, read_only=True)

    def instant(self, as_of: str | None) -> tuple[dt.datetime, str]:
        """(instant, basis): the parsed as-of, or the latest data when none is given."""
        if as_of is not None and str(as_of).strip():
            return cfg.parse_instant(str(as_of)), envelope.GIVEN
        key = ("latest", self._version())
        with self.lock:
            if key not in self.cache:
                with self._open() as s:
                    self.cache[key] = envelope.latest_data(s)
            return self.cache[key], envelope.LATEST

    def findings_at(self, t: dt.datetime, price: float | None = None, *, series: bool = False) -> FindingSet:
        from btcstress import metrics
        key = ("findings", self._version(), t, price, series)
        with self.lock:
            if key not in self.cache:
                with self._open() as s:
                    if series:  # the brief: as `report` serves it, the stored snapshot when fresh (identical)
                        from btcstress.history import snapshots
                        self.cache[key] = snapshots.brief_findings(s, t, params=self.params, price=price)
                    else:  # computed, so every finding keeps its row-level derivation (sources, detail)
                        self.cache[key] = metrics.compute(s, t, params=self.params, price=price)
            return self.cache[key]

    # -- the tools --------------------------------------------------------------------------------

    def findings(self, as_of: str | None = None, ids: str | list[str] | None = None, subject: str | None = None,
                 price: float | None = None) -> dict[str, Any]:
        t, basis = self.instant(as_of)
        p = _price(price)
        fs = self.findings_at(t, p)
        return envelope.findings_envelope(fs, envelope.select(fs, ids, subject), price=p, basis=basis)

    def brief(self, as_of: str | None = None) -> str:
        from btcstress import brief as brief_mod
        from btcstress.brief import render
        t, basis = self.instant(as_of)
        fs = self.findings_at(t, series=True)
        head = f"<!-- btcstress brief as of {iso(fs.as_of)} ({basis}); store {self.db.name}; findings: {fs.served} -->\n"
        return head + render.markdown(brief_mod.build(fs))

    def check(self, claims: str | list[dict[str, Any]], as_of: str | None = None) -> dict[str, Any]:
        from pydantic import ValidationError

        from btcstress import claims as claims_mod
        t, basis = self.instant(as_of)
        if isinstance(claims, dict):
            claims = [claims]
        try:
            rows = claims_mod.parse(claims)
        except ValidationError as exc:
            raise InputError(f"claims: {exc.errors()[0].get('msg')}") from None
        with self.lock, self._open() as s:
            verdicts = claims_mod.check(s, rows, t, params=self.params)
        out = claims_mod.to_json(verdicts, t)
        out["as_of_basis"] = basis
        return out

    def scenario(self, price: float | None = None, shock: str | float | None = None, ladder: str | None = None,
                 as_of: str | None = None) -> dict[str, Any]:
        from btcstress.scenario import shock as sh
        given = [n for n, v in (("price", price), ("shock", shock), ("ladder", ladder)) if v is not None]
        if len(given) != 1:
            raise InputError("give exactly one of price (USD), shock (e.g. -20%) or ladder (e.g. -10,-20,-30)"
                             + (f"; got {', '.join(given)}" if given else ""))
        t, basis = self.instant(as_of)
        observed = self.findings_at(t).get("price.last_usd")
        if ladder is not None:
            rungs = sh.parse_ladder(str(ladder))
            params = {**self.params, "scenario": {**self.params.get("scenario", {}), "ladder_pct": rungs}}
            from btcstress import metrics
            with self.lock, self._open() as s:
                fs = metrics.compute(s, t, params=params)
            chosen = [f for f in fs if f.id == "scenario.ladder"]
            out = envelope.findings_envelope(fs, chosen, basis=basis)
            out["ladder_pct"] = rungs
            return out
        if shock is not None:
            if observed is None or observed.value is None:
                raise NoDataError(f"no observed price (price.last_usd) as of {iso(t)} to apply a shock to")
            pct = sh.parse_shock(str(shock), "shock")
            target = _price(sh.shocked_price(float(observed.value), pct))
        else:
            pct, target = None, _price(price)
        fs = self.findings_at(t, target)
        chosen = [f for f in fs if (f.id.startswith("scenario.") and f.id != "scenario.ladder") or f.hypothetical]
        out = envelope.findings_envelope(fs, chosen, price=target, basis=basis)
        out.update(shock_pct=pct, observed_price=observed.value if observed else None)
        return out

    def stress(self, as_of: str | None = None) -> dict[str, Any]:
        t, basis = self.instant(as_of)
        fs = self.findings_at(t)
        found = [f for f in fs if f.id.startswith("stress.") and not f.id.startswith("stress.episode")]
        return envelope.findings_envelope(fs, found, price=None, basis=basis)

    def episodes(self, as_of: str | None = None, top: int = 5) -> dict[str, Any]:
        from btcstress.metrics import stress as area
        if not 1 <= int(top) <= 50:
            raise InputError(f"top must be between 1 and 50, not {top}")
        t, basis = self.instant(as_of)
        fs = self.findings_at(t)
        p = {**area.DEFAULTS, **self.params.get("stress", {})}
        with self.lock, self._open() as s:
            found = area.episodes(s, fs.as_of, p, k=int(top))
        return envelope.findings_envelope(fs, found, price=None, basis=basis)

    def explain(self, id: str, subject: str | None = None, as_of: str | None = None) -> dict[str, Any]:
        t, basis = self.instant(as_of)
        fs = self.findings_at(t)
        known = {f.id for f in fs}
        if id not in known:
            raise InputError(f"unknown finding id {id!r}{envelope.did_you_mean(id, known)} (the ids tool lists them)")
        matches = [f for f in fs if f.id == id]
        if subject:
            subjects = {f.subject for f in matches}
            matches = [f for f in matches if f.subject.lower() == subject.strip().lower()]
            if not matches:
                raise InputError(f"{id} has no subject {subject!r}{envelope.did_you_mean(subject, subjects)}; "
                                 f"subjects: {', '.join(sorted(subjects))}")
        return {"as_of": iso(fs.as_of), "as_of_basis": basis, "id": id,
                "explanations": [{"subject": f.subject, "window": f.window, "kind": f.kind, "text": in_words(f),
                                  "finding": f.model_dump(mode="json")} for f in matches]}

    def ids(self) -> dict[str, Any]:
        from btcstress import areas
        rows = areas.catalogue_rows()
        return {"count": len(rows), "ids": rows,
                "source": "the finding catalogue: each area declares its ids (btcstress.areas; docs/METRICS.md)"}

    def params_catalogue(self) -> dict[str, Any]:
        from btcstress import declared
        rows = [dict(p) for p in declared.catalogue()]
        for r in rows:
            r["override"] = f"--param {r['area']}.{r['name']}=VALUE"
        return {"count": len(rows), "params": rows,
                "source": "each area's DEFAULTS and the comments beside them in btcstress' metric code"}


def _price(price: float | None) -> float | None:
    if price is None:
        return None
    try:
        p = float(price)
    except (TypeError, ValueError):
        raise InputError(f"price must be a positive number of USD, got {price!r}") from None
    if not (0 < p <= MAX_PRICE):
        raise InputError(f"price must be a positive number of USD up to {MAX_PRICE:,.0f}, got {price!r}")
    return p


def in_words(f: Finding) -> str:
    """A finding's value, method, parameters, sources and note as a paragraph."""
    from btcstress.brief.fmt import text
    value = "not available" if f.value is None else (text(f.value, f.unit) if isinstance(f.value, (int, float))
                                                    else str(f.value))
    parts = [f"{f.id} for {f.subject}" + (f" over {f.window}" if f.window else "") + f" is {value}"
             + (" (hypothetical, re-valued at a chosen price)" if f.hypothetical else "")
             + f" as of {iso(f.as_of)}; it is {f.kind}."]
    if f.method:
        parts.append(f"Method: {f.method.rstrip('.')}.")
    if f.params:
        parts.append("Parameters: " + ", ".join(f"{k}={v}" for k, v in f.params.items()) + ".")
    if f.sources:
        parts.append("Sources: " + "; ".join(
            f"{s.rows} row(s) of {s.table} from {s.origin}"
            + (f" ({iso(s.first)} to {iso(s.last)})" if s.first and s.last else "")
            + (f", {s.note}" if s.note else "") for s in f.sources) + ".")
    else:
        parts.append("Sources: none (no rows by then).")
    if f.note:
        parts.append(f"Note: {f.note}")
    return " ".join(parts)
