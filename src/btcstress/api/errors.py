"""Errors as JSON: `{"error": kind, "message": what to do, "detail": ...}` for every failure."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from btcstress.api.guard import Busy
from btcstress.errors import BtcstressError, InputError, NoDataError
from btcstress.store import StoreBusyError


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


def error_response(status: int, error: str, message: str, detail: Any = None,
                   headers: dict | None = None) -> JSONResponse:
    from btcstress.api.guard import scrub
    body = {"error": error, "message": scrub(message)}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Map every error (ours, FastAPI's validation, Starlette's 404/405) to the JSON body above."""
    @app.exception_handler(ApiError)
    async def _apierror_response(request: Request, exc: ApiError):
        return error_response(exc.status, exc.error, exc.message, exc.extra or None,
                      headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)

    @app.exception_handler(NoDataError)
    async def _no_data(request: Request, exc: NoDataError):
        return error_response(404, "no_data", str(exc))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError):
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy):
        return error_response(503, "busy", str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StoreBusyError)
    async def _store_busy(request: Request, exc: StoreBusyError):
        return error_response(503, "store_busy", "the store is being written by another btcstress process (an "
                              "ingest or a monitor batch); retry in a moment", headers={"Retry-After": "2"})

    @app.exception_handler(BtcstressError)
    async def _other(request: Request, exc: BtcstressError):
        # e.g. the store file is locked by an ingest running in another process
        return error_response(503, "unavailable", f"{exc} (retry in a moment)", headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{loc or 'request'}: {e.get('msg')}")
        return error_response(422, "invalid_parameter", "; ".join(parts) or "invalid request",
                      detail=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        msg = f"no such endpoint: {request.url.path} (see /docs)" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, kind, msg)
