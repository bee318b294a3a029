"""Data quality after parsing: suspect values are kept, flagged and explained, never silently used.

Strict parsing (parsers/) refuses what cannot be a value at all (unparseable, non-finite, a high below
its low). This layer looks at values that parse fine but that their neighbours or another source do
not support: a daily high of 56,388 on a day every close around it sits near 30,000. Each rule is a
pure function over stored rows that returns flags; `refresh` recomputes them all after every ingest
run into the `quality` table (derived data: replaced whole, inside the ingest's transaction). Metrics
read the flags known by their as-of instant and fall back to a clean source or say the value is
suspect (docs/DATA.md, "Data quality"). rules.py: the composite price; series_rules.py: every other
series; mark.py: the findings computed from a flagged value.
"""

from btcstress.quality.rules import PRICE_RULES, Flag, refresh, suspect_flags  # noqa: F401
from btcstress.quality.series_rules import RULES as SERIES_RULES

RULES = {**PRICE_RULES, **SERIES_RULES}
