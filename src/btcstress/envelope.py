"""What every interface (CLI `--json`, HTTP API, MCP server) answers with, and how it picks "now".

One JSON envelope for a set of findings:

    {"as_of": "2026-02-06T08:00:00Z", "as_of_basis": "given" | "latest data",
     "price": null | 55000.0, "count": 3, "findings": [ {id, subject, value, unit, ...}, ... ],
     "served": {"price": "stored (finding_history, fresh through ...)", "miners": "computed (...)", ...}}

(`served`, from `findings --as-of` and GET /findings: per area, read from finding_history or computed.)

`as_of_basis` says whether the instant was asked for or, with no as-of, is the latest data in the
store (the instant its newest price bar was published). Timestamps are ISO-8601 UTC with a Z.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any, Iterable

from btcstress.errors import InputError, NoDataError
from btcstress.findings import Finding, FindingSet, iso

GIVEN = "given"
LATEST = "latest data"


def latest_data(store) -> dt.datetime:
    """The instant the store's newest price bar became available: "now" as far as the data goes."""
    import pandas as pd
    last = store.table("candles").available_at.max().execute()
    if last is None or pd.isna(last):
        raise NoDataError("the store holds no price data: run `btcstress ingest snapshot` first")
    return pd.Timestamp(last).to_pydatetime().replace(tzinfo=dt.timezone.utc)


def resolve(store, as_of: dt.datetime | None) -> tuple[dt.datetime, str]:
    """(the instant to answer at, its basis): the given instant, else the latest data."""
    if as_of is not None:
        return as_of, GIVEN
    return latest_data(store), LATEST


def findings_envelope(fs: FindingSet, chosen: Iterable[Finding] | None = None, *, price: float | None = None,
                      basis: str = GIVEN, served: dict[str, str] | None = None) -> dict[str, Any]:
    """`served` (history.served): per area, whether its findings were read from finding_history or computed."""
    rows = [f.model_dump(mode="json") for f in (fs if chosen is None else chosen)]
    body = {"as_of": iso(fs.as_of), "as_of_basis": basis, "price": price, "count": len(rows), "findings": rows}
    if served is not None:
        body["served"] = served
    return body


def nearest(word: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The closest known names to a mistyped one (difflib's ratio; what git and click do too)."""
    return difflib.get_close_matches(word, sorted(set(known)), n=n, cutoff=0.6)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    near = nearest(word, known)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def select(fs: Iterable[Finding], ids: str | list[str] | None = None, subject: str | None = None) -> list[Finding]:
    """Findings whose id equals or starts with one of `ids` (comma-separated or a list) and about
    `subject` (case-insensitive). An id or subject that matches nothing is an InputError naming the
    nearest known ones, never an empty answer."""
    chosen = list(fs)
    if ids:
        want = wanted_ids(ids)
        refuse_unknown_ids(want, {f.id for f in chosen})
        chosen = [f for f in chosen if any(f.id == w or f.id.startswith(w) for w in want)]
    if subject:
        subjects = {f.subject for f in chosen}
        match = {s for s in subjects if s.lower() == subject.strip().lower()}
        if not match:
            raise InputError(f"no finding about subject {subject!r}{did_you_mean(subject, subjects)}")
        chosen = [f for f in chosen if f.subject in match]
    return chosen


def wanted_ids(ids: str | list[str]) -> list[str]:
    """The ids (or id prefixes) asked for, from a comma-separated string or a list."""
    return [i.strip() for i in (ids.split(",") if isinstance(ids, str) else ids) if i and i.strip()]


def refuse_unknown_ids(want: list[str], known: Iterable[str]) -> None:
    """InputError naming every id that is neither a known id nor a prefix of one, with the nearest."""
    known = set(known)
    unknown = [w for w in want if not any(k == w or k.startswith(w) for k in known)]
    if unknown:
        raise InputError("; ".join(f"unknown finding id {w!r}{did_you_mean(w, known)}" for w in unknown)
                         + " (`btcstress ids` lists them)")


def id_catalogue(fs: Iterable[Finding]) -> list[dict[str, Any]]:
    """Every finding id in a finding set, once: unit, kind, a one-line definition (the method's first
    sentence) and the subjects it is reported for."""
    out: dict[str, dict[str, Any]] = {}
    for f in fs:
        row = out.setdefault(f.id, {"id": f.id, "unit": f.unit, "kind": f.kind, "definition": "", "subjects": []})
        if not row["definition"] and f.method:
            row["definition"] = first_sentence(f.method)
        if f.subject not in row["subjects"]:
            row["subjects"].append(f.subject)
        if row["unit"] == "" and f.unit:
            row["unit"] = f.unit
    return sorted(out.values(), key=lambda r: r["id"])


def first_sentence(text: str, limit: int = 160) -> str:
    s = " ".join(text.split())
    for stop in (". ", "; "):
        if stop in s:
            s = s.split(stop, 1)[0]
            break
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"
