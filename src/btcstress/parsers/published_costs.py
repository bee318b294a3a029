"""Published production-cost estimates per BTC (../shared/data/miners/published_production_cost_estimates.csv)
into the `citations` table, so they become kind="cited" findings exactly like `btcstress cite add`.

Columns: publisher,published,date_precision,value_usd,definition,basis,source_url
- finding_id is `miners.published_cost_usd`, subject the publisher.
- as_of (= available_at) is when the figure can be known: the end of the publication day, or for
  `date_precision=month` the end of the month (the day is not known, so it is not assumed earlier).
- window is `published:<published>` (the day or month as given).
- note keeps the stated definition and basis: the miners area reads the definition from it.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

from btcstress.parsers.common import Invalid, Parsed, number, parse_table

TARGET = "citations"
FINDING_ID = "miners.published_cost_usd"
REQUIRED = ("publisher", "published", "date_precision", "value_usd", "definition", "basis", "source_url")


def known_from(published: str, precision: str) -> dt.datetime:
    """The instant a figure published on `published` (a day, or a month) is known."""
    if precision == "day":
        try:
            d = dt.date.fromisoformat(published)
        except ValueError:
            raise Invalid("published", published, "not a date (YYYY-MM-DD) for date_precision=day") from None
        return dt.datetime.combine(d + dt.timedelta(days=1), dt.time())
    if precision == "month":
        if not re.fullmatch(r"\d{4}-\d{2}", published):
            raise Invalid("published", published, "not a month (YYYY-MM) for date_precision=month")
        y, m = map(int, published.split("-"))
        if not 1 <= m <= 12:
            raise Invalid("published", published, "month out of range")
        return dt.datetime(y + (m == 12), m % 12 + 1, 1)
    raise Invalid("date_precision", precision, "expected 'day' or 'month'")


def row(f: dict[str, str]) -> dict:
    for name in ("publisher", "definition"):
        if not (f.get(name) or "").strip():
            raise Invalid(name, f.get(name), "missing value")
    url = (f.get("source_url") or "").strip()
    if not re.match(r"^https?://\S+$", url):
        raise Invalid("source_url", url, "not an http(s) URL")
    value = number(f, "value_usd", positive=True)
    at = known_from(f["published"].strip(), (f.get("date_precision") or "").strip())
    publisher = f["publisher"].strip()
    return {"finding_id": FINDING_ID, "subject": publisher, "as_of": at, "available_at": at,
            "source": f"{publisher} (reported by {urlparse(url).netloc})", "value": value, "unit": "USD",
            "window": f"published:{f['published'].strip()}", "url": url,
            "note": f"definition: {f['definition'].strip()}; basis: {(f.get('basis') or '').strip()}"}


def parse(text: str, origin: str) -> Parsed:
    return parse_table(text, origin, REQUIRED, TARGET, row)
