"""Plotly figures for the brief, in one house style. Figures are plain dicts (Plotly JSON), built
from Series; nothing here computes a number that is shown as a finding."""

from __future__ import annotations

from typing import Any

from btcstress.findings import Series

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
ACCENT = "#c0392b"
BLUE = "#2f6690"
PALETTE = ["#2f6690", "#c0392b", "#3a7d44", "#d68c45", "#6c5b7b", "#16a085", "#8e8d8a", "#b5651d",
           "#5d6d7e", "#a93226", "#1b4f72", "#7d6608"]


def layout(title: str = "", *, yaxis_title: str = "", height: int = 320, **extra: Any) -> dict:
    base = {
        "title": {"text": title, "font": {"size": 13, "color": INK}, "x": 0, "xanchor": "left"} if title else None,
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 36 if title else 12, "b": 36},
        "paper_bgcolor": "white", "plot_bgcolor": "white",
        "font": {"family": "Inter, -apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 11, "color": INK},
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "tickfont": {"color": MUTED}},
        # exponentformat "B": 1B, 500M, 60B (Plotly's SI default would print giga as "G")
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "tickfont": {"color": MUTED}, "title": {"text": yaxis_title},
                  "exponentformat": "B", **({"tickprefix": "$"} if yaxis_title.upper().startswith("USD") else {})},
        "legend": {"orientation": "h", "y": -0.15, "x": 0, "font": {"size": 10}},
        "hovermode": "x unified",
        "showlegend": False,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def line(s: Series, *, name: str | None = None, color: str = BLUE, width: float = 1.6, dash: str | None = None,
         y: list | None = None, fill: str | None = None) -> dict:
    trace = {"type": "scatter", "mode": "lines", "x": s.x, "y": y if y is not None else s.y, "name": name or s.title,
             "line": {"color": color, "width": width}}
    if dash:
        trace["line"]["dash"] = dash
    if fill:
        trace["fill"] = fill
    return trace


def candles(s: Series, *, name: str = "BTC") -> dict:
    return {"type": "candlestick", "x": s.x, "open": s.extra["open"], "high": s.extra["high"], "low": s.extra["low"],
            "close": s.y, "name": name, "increasing": {"line": {"color": "#3a7d44", "width": 1}},
            "decreasing": {"line": {"color": ACCENT, "width": 1}}}


def marker(x: Any, y: Any, text: str, *, color: str = ACCENT) -> dict:
    return {"type": "scatter", "mode": "markers+text", "x": [x], "y": [y], "text": [text], "textposition": "bottom center",
            "marker": {"color": color, "size": 8}, "textfont": {"color": color, "size": 11}, "name": text,
            "hoverinfo": "skip"}


def hline(y: float, text: str, *, color: str = MUTED) -> tuple[dict, dict]:
    """A horizontal reference line and its label, as (shape, annotation)."""
    return ({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
             "line": {"color": color, "width": 1, "dash": "dot"}},
            {"xref": "paper", "x": 1, "y": y, "text": text, "showarrow": False, "xanchor": "right", "yanchor": "bottom",
             "font": {"size": 10, "color": color}})
