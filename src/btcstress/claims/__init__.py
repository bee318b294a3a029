"""The claim checker: a claims file -> one verdict per claim, from findings only.

A claim says "finding F, for subject S, over window W on day D, is about / above / below / equal to V".
Each claim is evaluated with the findings as known at one instant (see `evaluation_instant`):

- a claim about a *daily* figure of day D (window `1d`, `week`, `Nd`) is read as of the last instant
  before day D+1 ends, but never later than --as-of: day D is then the latest complete day, and every
  version of D published during the following day (a late ETF vintage) counts;
- any other claim (`spot`, `24h`, `all`, `since`) is read as of the end of day D, never later than --as-of.

When day D is still running at that instant, the claim is read as "the latest figure known that day" and
the reason says so. Verdicts: `supported` (within tolerance, or the comparison holds), `contradicted`
(it does not) and `unverifiable` (no finding covers it: not in the data, a wider scope than ours, or
only a cited figure). Every verdict carries the computed value, the difference and the reason.

The checker compares; it never computes a new metric. Alternative readings it offers (another window,
another vintage, the day's close instead of spot) are other findings, or the same finding from the
metrics at another price (the metrics' own `price` override), each named in the reason.
Tolerances, mappings and rules: docs/METRICS.md, "## Claims".

The package: `parse` (claims in), `judge` (the core: read instant, pick, unit, tolerance, wording),
`rules` (`ClaimRule`: what an area adds, declared next to its metrics as `metrics/<area>_claims.py`
and named by the area's `claim_rules`; the tolerances), `output` (JSON, Markdown).
"""

from btcstress.claims.judge import (DAILY_WINDOW, SUBJECT_ALIASES, FindingsAt, Judge, Verdict, areas_for, check,
                                    check_with, evaluation_instant, judge)
from btcstress.claims.output import diff, show, to_json, to_markdown
from btcstress.claims.parse import COLUMNS, COMPARATORS, Claim, parse, read
from btcstress.claims.rules import TOLERANCE, ClaimRule, holds, tolerance_for

__all__ = ["COLUMNS", "COMPARATORS", "DAILY_WINDOW", "SUBJECT_ALIASES", "TOLERANCE", "Claim", "ClaimRule",
           "FindingsAt", "Judge", "Verdict", "areas_for", "check", "check_with", "diff", "evaluation_instant",
           "holds", "judge", "parse", "read", "show", "to_json", "to_markdown", "tolerance_for"]
