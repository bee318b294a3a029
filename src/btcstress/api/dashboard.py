"""The dashboard: GET / (web/index.html), the Plotly bundle and web/ as /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

WEB = Path(__file__).resolve().parent.parent / "web"

router = APIRouter()


@router.get("/", include_in_schema=False)


def index():
    return FileResponse(WEB / "index.html", media_type="text/html")


@router.get("/assets/plotly.min.js", include_in_schema=False)


def plotly_js():
    from btcstress.brief.render import plotly_js as js
    return Response(js(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
