"""The HTTP API and the dashboard: everything btcstress knows, over HTTP, read-only by default.

`btcstress serve` runs `create_app()` under uvicorn. Endpoints render findings; they never compute
a number themselves (metrics do, through `metrics.compute`). Request strings are parsed into typed
values (instants, prices, ids) and looked up in what the metrics returned; no SQL is ever built
from them.

Store access: DuckDB connections are not thread-safe and Ibis expressions from two connections in
two threads interfere, so every store access in this process goes through one lock, on a
read-only connection opened for that access and closed after it (so a `btcstress ingest` in
another process can take the file between requests). Findings are cached per
(store version, as-of, price): the store version is the store file's (and its WAL's) mtime and
size, so an ingest makes the next request recompute. Concurrent requests for the same uncached key
wait for one computation instead of starting their own.
"""

from __future__ import annotations

import collections
import datetime as dt
import hmac
import json
import math
import os
import re
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Literal

from fastapi import Depends, FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from btcstress import config as cfg
from btcstress.errors import BtcstressError, InputError, NoDataError
from btcstress.findings import Finding, FindingSet, Series, iso

WEB = Path(__file__).parent / "web"
MAX_IDS = 100
MAX_PRICE = 10_000_000.0  # USD: above this a "price" is a typo, not a scenario
MAX_SERIES_SPAN = dt.timedelta(days=3700)  # about ten years: a larger from..to range is refused
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$")
_SERIES_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
MAX_BODY = 1_000_000  # bytes of claims per POST /check
MAX_CLAIMS = 500
CLAIMS_EXAMPLE = ("claim_id,finding_id,subject,comparator,value,unit,as_of,window,quote\n"
                  "c1,price.low_24h_usd,BTC,approx,60000,USD,2026-02-06,24h,Bitcoin touched $60,000\n")


def _has(module: str) -> bool:
    """Whether an optional part of btcstress (claims, scenario) is installed in this build."""
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# -- errors ---------------------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, **extra: Any):
        self.status, self.error, self.message, self.extra = status, error, message, extra


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable kind: bad_request, not_found, no_data, ...")
    message: str = Field(description="what went wrong and what to do")
    detail: Any = None


ERRORS = {400: {"model": ErrorBody, "description": "Malformed input (a bad timestamp, a negative price)"},
          404: {"model": ErrorBody, "description": "Unknown id, or no data for that instant"},
          422: {"model": ErrorBody, "description": "A parameter failed validation"}}


def _error(status: int, error: str, message: str, detail: Any = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": error, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


# -- the store, the lock and the cache ------------------------------------------------------------

class LRU:
    """A small thread-safe LRU with single-flight: one computation per key however many ask."""

    def __init__(self, size: int):
        self.size = size
        self.data: collections.OrderedDict = collections.OrderedDict()
        self.inflight: dict[Any, Future] = {}
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def peek(self, key) -> Any:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                self.hits += 1
                return self.data[key]
        return None

    def get(self, key, make: Callable[[], Any]) -> Any:
        if self.size <= 0:
            self.misses += 1
            return make()
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                self.hits += 1
                return self.data[key]
            fut = self.inflight.get(key)
            owner = fut is None
            if owner:
                fut = self.inflight[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return fut.result()
        try:
            value = make()
        except BaseException as exc:
            with self.lock:
                self.inflight.pop(key, None)
            fut.set_exception(exc)
            raise
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
            self.inflight.pop(key, None)
        fut.set_result(value)
        return value

    def clear(self) -> None:
        with self.lock:
            self.data.clear()

    def stats(self) -> dict[str, int]:
        return {"size": self.size, "entries": len(self.data), "hits": self.hits, "misses": self.misses}


class Service:
    """What the endpoints share: the store path, the parameters, one lock, the caches."""

    def __init__(self, db: str | os.PathLike | None, *, params: dict | None = None, cache_size: int = 64,
                 token: str | None = None):
        from btcstress.store import default_db_path
        self.db = Path(db) if db is not None else default_db_path()
        self.params = params or {}
        self.token = token or None
        self.lock = threading.RLock()
        self.findings_cache = LRU(cache_size)
        self.response_cache = LRU(cache_size * 4)
        self.computations = 0

    def version(self) -> tuple:
        """Changes whenever the store file changes (an ingest, a cite)."""
        parts = []
        for p in (self.db, self.db.with_name(self.db.name + ".wal")):
            try:
                st = p.stat()
                parts.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                parts.append(None)
        return tuple(parts)

    @contextmanager
    def store(self, *, write: bool = False):
        from btcstress.store import Store
        with self.lock:
            s = Store(self.db, read_only=not write)
            try:
                yield s
            finally:
                s.close()

    def findings(self, as_of: dt.datetime, price: float | None = None, *, series: bool = False) -> FindingSet:
        version = self.version()
        key = (version, as_of, price)
        if price is None:
            series = True  # the dashboard asks for findings, series and the brief of one instant together
        if not series:  # a set computed with series answers a question without them
            hit = self.findings_cache.peek((*key, True))
            if hit is not None:
                return hit

        def make() -> FindingSet:
            from btcstress import metrics
            with self.store() as s:
                self.computations += 1
                return metrics.compute(s, as_of, params=self.params, price=price, with_series=series)

        return self.findings_cache.get((*key, series), make)

    def cached_response(self, key: tuple, make: Callable[[], Any]) -> Any:
        return self.response_cache.get((self.version(), *key), make)

    async def answer(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A cached response straight from the event loop; anything else computes in a worker thread."""
        hit = self.response_cache.peek((self.version(), *key)) if self.response_cache.size > 0 else None
        if hit is not None:
            return hit
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(self.cached_response, key, make)

    def coverage(self) -> dict[str, Any]:
        def make():
            with self.store() as s:
                c = s.table("candles")
                first, last = c.open_time.min().execute(), c.available_at.max().execute()
            import pandas as pd
            if first is None or pd.isna(first):
                return {"first": None, "last": None}
            return {"first": iso(pd.Timestamp(first).to_pydatetime()), "last": iso(pd.Timestamp(last).to_pydatetime())}
        return self.cached_response(("coverage",), make)

    def events(self) -> list[dict[str, Any]]:
        def make():
            with self.store() as s:
                e = s.table("events").order_by("date").execute()
            return [{"date": str(r.date)[:10], "id": r.id,
                     "title": r.title, "category": r.category} for r in e.itertuples()]
        return self.cached_response(("events",), make)

    def clear(self) -> None:
        self.findings_cache.clear()
        self.response_cache.clear()


# -- input parsing --------------------------------------------------------------------------------

def instant(text: str | None, name: str = "as_of", *, bare_date: str = "end") -> dt.datetime:
    """An ISO instant (no zone means UTC); a bare date means the end of that day (or its start)."""
    if text is None or not text.strip():
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    try:
        if bare_date == "start" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            d = dt.date.fromisoformat(text.strip())
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
        t = cfg.parse_instant(text)
        t.astimezone(dt.timezone.utc).replace(tzinfo=None)  # out-of-range instants fail here, not later
        return t
    except InputError as exc:
        raise ApiError(400, "bad_request", f"{name}: {exc}") from None
    except (OverflowError, ValueError):
        raise ApiError(400, "bad_request", f"{name}: {text!r} is out of range (use e.g. 2026-02-06T08:00Z)") from None


def positive_price(price: float | None) -> float | None:
    if price is None:
        return None
    if not math.isfinite(price) or price <= 0:
        raise ApiError(400, "bad_request", f"price must be a positive number of USD, got {price}")
    if price > MAX_PRICE:
        raise ApiError(400, "bad_request", f"price {price:,.0f} is above the {MAX_PRICE:,.0f} USD limit")
    return float(price)


def shock_pct(text: str | None) -> float | None:
    """'-20%' or '-20' -> -20.0 (percent); must be above -100%."""
    if text is None:
        return None
    s = text.strip().rstrip("%").strip()
    try:
        v = float(s)
    except ValueError:
        raise ApiError(400, "bad_request", f"shock: {text!r} is not a percentage (use e.g. -20%)") from None
    if not math.isfinite(v) or v <= -100 or v > 1000:
        raise ApiError(400, "bad_request", f"shock must be above -100% and at most +1000%, got {text}")
    return v


# -- response models (documentation; the handlers return pre-serialized JSON) ----------------------

class FindingsResponse(BaseModel):
    as_of: str
    price: float | None = Field(None, description="the hypothetical price the findings were re-valued at, if any")
    count: int
    findings: list[Finding]


class SeriesResponse(BaseModel):
    as_of: str
    series: Series


class ScenarioResponse(BaseModel):
    as_of: str
    price: float = Field(description="the scenario price (given, or price.last_usd moved by the shock)")
    shock_pct: float | None = None
    observed_price: float
    count: int
    findings: list[Finding]


class Health(BaseModel):
    status: str
    store: str
    data: dict[str, Any]
    cache: dict[str, Any]
    writes: bool
    endpoints: list[str]


class CitationIn(BaseModel):
    finding: str = Field(..., description="finding id, e.g. liquidations.total_usd")
    subject: str
    value: str = Field(..., description="the number as reported, e.g. 2.65e9")
    unit: str | None = None
    as_of: str
    window: str | None = None
    source: str
    url: str | None = None
    note: str | None = None


# -- the app --------------------------------------------------------------------------------------

def create_app(db: str | os.PathLike | None = None, *, config: dict | None = None, cache_size: int | None = None,
               token: str | None = None) -> FastAPI:
    from fastapi_offline import FastAPIOffline

    config = config or {}
    api_cfg = config.get("api") or {}
    if token is None:
        token = os.environ.get("BTCSTRESS_API_TOKEN") or api_cfg.get("token")
    if cache_size is None:
        cache_size = int(os.environ.get("BTCSTRESS_API_CACHE", api_cfg.get("cache_size", 64)))
    svc = Service(db, params=cfg.params(config, []), cache_size=cache_size, token=token)

    app = FastAPIOffline(
        title="btcstress", version="0.1.0",
        description="Bitcoin market stress from raw public data: findings with provenance, the brief, scenarios. "
                    "Every question is asked as of a UTC instant (`as_of`, e.g. 2026-02-06T08:00Z; a bare date "
                    "means the end of that UTC day; omitted means now). Read-only unless an API token is configured.")
    app.state.service = svc

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.error, exc.message, exc.extra or None,
                      headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)

    @app.exception_handler(NoDataError)
    async def _no_data(request: Request, exc: NoDataError):
        return _error(404, "no_data", str(exc))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError):
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(BtcstressError)
    async def _other(request: Request, exc: BtcstressError):
        # e.g. the store file is locked by an ingest running in another process
        return _error(503, "unavailable", f"{exc} (retry in a moment)")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{loc or 'request'}: {e.get('msg')}")
        return _error(422, "invalid_parameter", "; ".join(parts) or "invalid request",
                      detail=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        msg = f"no such endpoint: {request.url.path} (see /docs)" if exc.status_code == 404 else str(exc.detail)
        return _error(exc.status_code, kind, msg)

    # -- read endpoints ---------------------------------------------------------------------------

    @app.get("/health", response_model=Health, tags=["meta"])
    def health():
        """Liveness, the store's data coverage and the cache's state."""
        try:
            data = svc.coverage() if svc.db.exists() else {"first": None, "last": None}
        except BtcstressError as exc:
            data = {"first": None, "last": None, "error": str(exc)}
        return {"status": "ok", "store": str(svc.db), "data": data,
                "cache": {"findings": svc.findings_cache.stats(), "responses": svc.response_cache.stats(),
                          "computations": svc.computations},
                "writes": svc.token is not None,
                "endpoints": sorted({r.path for r in app.routes if getattr(r, "include_in_schema", False)})}

    @app.get("/events", tags=["meta"], responses=ERRORS)
    def events():
        """Named dates (halvings, elections, crashes) the dashboard can jump to."""
        return svc.events()

    def _select(fs: FindingSet, ids: str | None, subject: str | None) -> list[Finding]:
        chosen = list(fs)
        if ids is not None:
            want = [i.strip() for i in ids.split(",") if i.strip()]
            if not want:
                raise ApiError(400, "bad_request", "ids: give one or more finding ids or prefixes, comma-separated")
            if len(want) > MAX_IDS:
                raise ApiError(400, "bad_request", f"ids: at most {MAX_IDS} ids per request, got {len(want)}")
            bad = [w for w in want if len(w) > 80 or not _ID_RE.match(w)]
            if bad:
                raise ApiError(400, "bad_request", f"ids: malformed finding id(s) {bad[:5]} (e.g. price.last_usd)")
            known = {f.id for f in fs}
            unknown = [w for w in want if not any(k.startswith(w) for k in known)]
            if unknown:
                raise ApiError(404, "unknown_finding", f"unknown finding id(s): {', '.join(unknown[:10])} "
                               "(see GET /findings for the ids)", unknown=unknown[:10])
            chosen = [f for f in chosen if any(f.id == w or f.id.startswith(w) for w in want)]
        if subject is not None:
            subjects = {f.subject for f in chosen}
            match = [s for s in subjects if s.lower() == subject.strip().lower()]
            if not match:
                raise ApiError(404, "unknown_subject", f"no finding about subject {subject!r} here; subjects: "
                               + ", ".join(sorted(subjects)[:40]))
            chosen = [f for f in chosen if f.subject in match]
        return chosen

    AS_OF_Q = Query(None, description="UTC instant, e.g. 2026-02-06T08:00Z; a bare date = end of that UTC day; "
                                      "omitted = now", max_length=64)
    PRICE_Q = Query(None, gt=0, le=MAX_PRICE, description="re-value price-dependent findings at this hypothetical "
                                                          "USD price (they come back with hypothetical=true)")

    @app.get("/findings", response_model=FindingsResponse, tags=["findings"], responses=ERRORS)
    async def findings(as_of: str | None = AS_OF_Q,
                 ids: str | None = Query(None, max_length=4000,
                                         description="comma-separated finding ids or id prefixes (price., etf.flow_usd)"),
                 subject: str | None = Query(None, max_length=200, description="only findings about this subject "
                                                                               "(BTC, IBIT, Strategy, ...)"),
                 price: float | None = PRICE_Q):
        """All findings as of an instant, each with its value, unit, method, parameters and sources."""
        t, p = instant(as_of), positive_price(price)

        def make() -> bytes:
            fs = svc.findings(t, p)
            chosen = _select(fs, ids, subject)
            return json.dumps({"as_of": iso(fs.as_of), "price": p, "count": len(chosen),
                               "findings": [f.model_dump(mode="json") for f in chosen]}).encode()
        body = await svc.answer(("findings", t, p, ids, subject), make)
        return Response(body, media_type="application/json")

    @app.get("/brief", tags=["brief"], responses={**ERRORS, 200: {
        "content": {"text/html": {}, "text/markdown": {}, "application/json": {}},
        "description": "The brief: HTML (loads Plotly from this server), Markdown or JSON"}})
    async def brief(as_of: str | None = AS_OF_Q,
              format: Literal["html", "md", "json"] = Query("html", description="html | md | json"),
              price: float | None = PRICE_Q,
              standalone: bool = Query(False, description="html only: inline Plotly's JS so the page works as a "
                                                          "file (about 4.6 MB)")):
        """The brief as of an instant: headline, highlights, one section per force, charts, sources."""
        t, p = instant(as_of), positive_price(price)

        def make() -> str:
            from btcstress import brief as brief_mod
            from btcstress.brief import render
            b = brief_mod.build(svc.findings(t, p, series=True))
            if format == "md":
                return render.markdown(b)
            if format == "json":
                return render.to_json(b)
            page = render.html(b, inline_js=standalone)
            if not standalone:
                page = page.replace("</head>", '<script src="/assets/plotly.min.js"></script>\n</head>', 1)
            return page
        text = await svc.answer(("brief", t, p, format, standalone and format == "html"), make)
        media = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
                 "json": "application/json"}[format]
        return Response(text, media_type=media)

    @app.get("/series", tags=["series"], responses=ERRORS)
    def series_index(as_of: str | None = AS_OF_Q):
        """The chart series available as of an instant: name, title, unit, points."""
        fs = svc.findings(instant(as_of), series=True)
        return {"as_of": iso(fs.as_of), "series": [{"name": s.name, "title": s.title, "unit": s.unit,
                                                      "points": len(s.x)} for s in fs.series.values()]}

    @app.get("/series/{name}", response_model=SeriesResponse, tags=["series"], responses=ERRORS)
    def series(name: str = PathParam(..., max_length=80, description="e.g. price.hourly_48h (see GET /series)"),
               as_of: str | None = AS_OF_Q,
               from_: str | None = Query(None, alias="from", max_length=64,
                                         description="first point (instant; a bare date = that day's start)"),
               to: str | None = Query(None, max_length=64, description="last point (instant; a bare date = that "
                                                                       "whole day)")):
        """One chart series (as the brief draws it) as of an instant, optionally cut to from..to."""
        if not _SERIES_RE.match(name):
            raise ApiError(400, "bad_request", f"series name {name!r} is malformed (e.g. price.hourly_48h)")
        t = instant(as_of)
        lo = instant(from_, "from", bare_date="start") if from_ else None
        hi = None
        if to:
            hi = instant(to, "to", bare_date="start")
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", to.strip()):
                hi = hi + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        if lo and hi and lo > hi:
            raise ApiError(400, "bad_request", f"from ({iso(lo)}) is after to ({iso(hi)})")
        if lo and hi and hi - lo > MAX_SERIES_SPAN:
            raise ApiError(400, "range_too_large", f"from..to spans {(hi - lo).days} days; at most "
                           f"{MAX_SERIES_SPAN.days} per request")
        fs = svc.findings(t, series=True)
        s = fs.series.get(name)
        if s is None:
            raise ApiError(404, "unknown_series", f"no series {name!r} as of {iso(fs.as_of)}; available: "
                           + ", ".join(sorted(fs.series)), available=sorted(fs.series))
        return Response(json.dumps({"as_of": iso(fs.as_of), "series": _cut(s, lo, hi).model_dump(mode="json")},
                                   default=str), media_type="application/json")

    # -- the claim checker and the scenario engine (each served when its module is installed) -------

    if _has("btcstress.claims"):
        @app.post("/check", tags=["claims"], responses={**ERRORS, 413: {"model": ErrorBody}}, openapi_extra={
            "requestBody": {"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}, "example": CLAIMS_EXAMPLE},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}})
        async def check(request: Request, as_of: str | None = AS_OF_Q):
            """Verdicts (supported / contradicted / unverifiable, with the computed value and the reason) for
            a claims file: CSV text (claim_id, finding_id, subject, comparator, value, unit, as_of, window,
            quote) or a JSON array of the same fields."""
            t = instant(as_of)
            raw = await request.body()
            if len(raw) > MAX_BODY:
                raise ApiError(413, "too_large", f"claims body is {len(raw):,} bytes; at most {MAX_BODY:,}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "bad_request", "claims: the body is not UTF-8 text") from None
            source: Any = text
            if "json" in request.headers.get("content-type", "") or text.lstrip().startswith(("[", "{")):
                try:
                    source = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ApiError(400, "bad_request", f"claims: invalid JSON ({exc})") from None
                if isinstance(source, dict):
                    source = source.get("claims")
                if not isinstance(source, list):
                    raise ApiError(400, "bad_request", "claims: expected a JSON array of claims (or {\"claims\": [...]})")
            from starlette.concurrency import run_in_threadpool
            verdicts = await run_in_threadpool(_check, source, t)
            counts = collections.Counter(v["verdict"] for v in verdicts)
            return {"as_of": iso(t), "count": len(verdicts), "summary": dict(counts), "verdicts": verdicts}

        def _check(source: Any, t: dt.datetime) -> list[dict]:
            from pydantic import ValidationError

            from btcstress import claims
            try:
                rows = claims.parse(source)
            except ValidationError as exc:
                raise ApiError(400, "bad_request", f"claims: {exc.errors()[0].get('msg')}") from None
            if len(rows) > MAX_CLAIMS:
                raise ApiError(400, "bad_request", f"claims: at most {MAX_CLAIMS} per request, got {len(rows)}")
            with svc.store() as s:
                return [v.model_dump(mode="json") for v in claims.check(s, rows, t, params=svc.params)]

    if _has("btcstress.scenario"):
        @app.get("/scenario", tags=["scenario"], response_model=ScenarioResponse, responses=ERRORS)
        async def scenario(as_of: str | None = AS_OF_Q, price: float | None = PRICE_Q,
                           shock: str | None = Query(None, max_length=16, description="a change from price.last_usd, "
                                                                                         "e.g. -20%")):
            """What happens if BTC goes to a price (or moves by a shock): the scenario engine's findings
            (liquidations and their cascade, hashrate and companies under water, the ladder) and every
            price-dependent finding re-valued, all marked hypothetical."""
            t, p = instant(as_of), positive_price(price)
            if (p is None) == (shock is None):
                raise ApiError(400, "bad_request", "give exactly one of price (USD) or shock (e.g. -20%)")
            from starlette.concurrency import run_in_threadpool

            def make() -> bytes:
                from btcstress.scenario import shock as sh
                observed = svc.findings(t).get("price.last_usd")
                if observed is None or observed.value is None:
                    raise NoDataError(f"no observed price (price.last_usd) as of {iso(t)}")
                pct = sh.parse_shock(shock, "shock") if shock is not None else None
                target = positive_price(sh.shocked_price(float(observed.value), pct)) if pct is not None else p
                fs = svc.findings(t, target)
                chosen = [f for f in fs if f.id.startswith("scenario.") or f.hypothetical]
                return json.dumps({"as_of": iso(fs.as_of), "price": target, "shock_pct": pct,
                                   "observed_price": observed.value, "count": len(chosen),
                                   "findings": [f.model_dump(mode="json") for f in chosen]}).encode()
            body = await svc.answer(("scenario", t, p, shock), make)
            return Response(body, media_type="application/json")

    # -- write endpoints: off unless a token is configured ----------------------------------------

    def writer(request: Request) -> None:
        if svc.token is None:
            raise ApiError(403, "writes_disabled", "write endpoints are off: set api.token in btcstress.yaml or "
                           "BTCSTRESS_API_TOKEN, then send 'Authorization: Bearer <token>'")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), svc.token.encode()):
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' with the configured API token")

    @app.post("/cite", tags=["write"], status_code=201, dependencies=[Depends(writer)],
              responses={**ERRORS, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}})
    def cite(c: CitationIn):
        """Record a figure reported by someone else (shown as a kind=cited finding). Needs the API token."""
        from btcstress import ingest
        from btcstress.sources import citations
        parsed = citations.single(c.model_dump(), origin="cite:api")
        with svc.store(write=True) as s:
            ingest.run(s, [(None, "cite:api", parsed)])
        svc.clear()
        return {"stored": 1, "finding": c.finding, "subject": c.subject}

    # -- the dashboard ----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(WEB / "index.html", media_type="text/html")

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js():
        from btcstress.brief.render import plotly_js as js
        return Response(js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


def _cut(s: Series, lo: dt.datetime | None, hi: dt.datetime | None) -> Series:
    """The points of `s` with lo <= x <= hi (x are ISO dates or instants); aligned extra columns too."""
    if lo is None and hi is None:
        return s
    keep = []
    for i, x in enumerate(s.x):
        try:
            t = _when(x)
        except ValueError:
            keep.append(i)
            continue
        if (lo is None or t >= lo) and (hi is None or t <= hi):
            keep.append(i)
    n = len(s.x)
    extra = {k: ([v[i] for i in keep] if isinstance(v, list) and len(v) == n else v) for k, v in s.extra.items()}
    return s.model_copy(update={"x": [s.x[i] for i in keep], "y": [s.y[i] for i in keep], "extra": extra})


def _when(x: Any) -> dt.datetime:
    if isinstance(x, dt.datetime):
        return x if x.tzinfo else x.replace(tzinfo=dt.timezone.utc)
    if isinstance(x, dt.date):
        return dt.datetime(x.year, x.month, x.day, tzinfo=dt.timezone.utc)
    t = dt.datetime.fromisoformat(str(x).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def serve(host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:  # pragma: no cover - thin wrapper
    import uvicorn
    uvicorn.run(create_app(**kw), host=host, port=port, log_level="info")


__all__ = ["create_app", "serve", "Service", "LRU"]
