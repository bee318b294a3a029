"""Configuration: a YAML file (--config, BTCSTRESS_CONFIG, or ./btcstress.yaml when present) and
command-line overrides. Model parameters live under `params: {area: {name: value}}`; their
defaults live with the metric that uses them and are documented in docs/METRICS.md."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import yaml

from btcstress.errors import InputError


def read_yaml(path: Path | str, what: str):
    """A YAML file's content (safe_load); every way of failing is one InputError naming `what` and the
    file (missing, a folder, not UTF-8, unreadable, not YAML with its line and column)."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a folder") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise InputError(f"{what} {path}: not valid YAML{at} ({getattr(exc, 'problem', None) or 'syntax'})") \
            from None


def load(path: str | os.PathLike | None = None) -> dict[str, Any]:
    path = path or os.environ.get("BTCSTRESS_CONFIG")
    if path is None and Path("btcstress.yaml").exists():
        path = "btcstress.yaml"
    if path is None:
        return {}
    data = read_yaml(path, "config file") or {}
    if not isinstance(data, dict):
        raise InputError(f"config file {path}: expected a mapping at the top level")
    for section in ("params", "sources", "api", "monitor", "spark"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise InputError(f"config file {path}: `{section}:` must be a mapping")
    for area, given in (data.get("params") or {}).items():
        if not isinstance(given, dict):
            raise InputError(f"config file {path}: `params.{area}:` must be a mapping of parameter: value")
    return data


def params(config: dict[str, Any], overrides: list[str]) -> dict[str, dict[str, Any]]:
    """Config params with `area.name=value` overrides applied (values parsed as YAML scalars)."""
    out: dict[str, dict[str, Any]] = {a: dict(v) for a, v in (config.get("params") or {}).items()
                                      if isinstance(v, dict)}
    for item in overrides:
        m = re.fullmatch(r"([a-z_]+)\.([a-z0-9_]+)=(.+)", item.strip())
        if not m:
            raise InputError(f"--param {item!r}: expected AREA.NAME=VALUE, e.g. miners.power_price_usd_kwh=0.06")
        try:
            out.setdefault(m[1], {})[m[2]] = yaml.safe_load(m[3])
        except yaml.YAMLError:
            raise InputError(f"--param {item!r}: the value is not a number, word or list") from None
    return out


# Date and time, extended ISO form; datetime.fromisoformat parses the rest (seconds, fractions, Z, offsets).
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_instant(text: str) -> dt.datetime:
    """An ISO instant in UTC: '2026-02-06T08:00Z', '2026-02-06T08:00:00+00:00', '2026-02-06 08:00'
    (no zone means UTC). A bare date means the instant its daily rows are published (end_of_day)."""
    s = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return end_of_day(s)
    ts = None
    if _ISO_DATETIME.match(s.upper()):  # not the basic forms (20260206) fromisoformat also reads: a date is a day
        try:
            ts = dt.datetime.fromisoformat(s.upper())
        except ValueError:
            ts = None
    if ts is not None and EARLIEST_YEAR <= ts.year <= LATEST_YEAR:
        return ts.replace(tzinfo=dt.timezone.utc) if ts.tzinfo is None else ts.astimezone(dt.timezone.utc)
    if _YEAR.match(s) and not EARLIEST_YEAR <= int(s[:4]) <= LATEST_YEAR:
        raise InputError(f"timestamp {text[:40]!r} out of range: years {EARLIEST_YEAR}..{LATEST_YEAR}")
    raise InputError(f"not a timestamp: {text[:40]!r} (use e.g. 2026-02-06T08:00Z)")


# Instants a question may be asked at: wide, but away from the calendar's edges (0001, 9999), where
# adding a day or a time zone overflows.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999
_YEAR = re.compile(r"\d{4}-")


def end_of_day(day: str) -> dt.datetime:
    """--date D: as of the first instant at which day D's daily rows are all published (D+1 07:00Z:
    CryptoQuant's conservative publication time, schema.CRYPTOQUANT_LAG; docs/DATA.md)."""
    try:
        d = dt.date.fromisoformat(day.strip())
    except ValueError:
        raise InputError(f"not a date: {day[:40]!r} (use YYYY-MM-DD)") from None
    if not EARLIEST_YEAR <= d.year <= LATEST_YEAR:
        raise InputError(f"date {day[:40]!r} out of range: years {EARLIEST_YEAR}..{LATEST_YEAR}")
    from btcstress.schema import day_published
    return day_published(d).replace(tzinfo=dt.timezone.utc)
