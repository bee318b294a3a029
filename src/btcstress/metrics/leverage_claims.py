"""The leverage area's claim rules (see btcstress/claims/rules.py): our liquidations cover BTC and ETH
(CryptoQuant, all exchanges), so a claim about all coins is wider than the data; it is supported only
when BTC+ETH alone already exceeds it."""

from __future__ import annotations

from btcstress.claims.rules import ClaimRule, finding_day, fmt_value
from btcstress.details import Cited

WIDER_THAN_OURS = {"crypto"}  # claim subjects (after aliases) wider than BTC, ETH and BTC+ETH


def _wider_scope(j, candidates):
    """A claim about all coins against our BTC/ETH/BTC+ETH liquidations."""
    if j.subject not in WIDER_THAN_OURS:
        return None
    ours = [f for f in candidates if f.kind != "cited" and f.subject == "BTC+ETH"]
    f = None
    w = j.c.window.lower()
    for x in ours:
        if x.window.lower().startswith("1d" if w in ("24h", "1d") else w) and x.value is not None:
            f = x
            break
    if f is None:
        f = next((x for x in ours if x.value is not None), ours[0] if ours else None)
    what = ("our liquidation data (CryptoQuant daily, all exchanges) cover BTC and ETH only, not all coins "
            f"as the claim's subject '{j.c.subject}' does")
    cited = [x for x in candidates if x.kind == "cited" and x.subject.lower() == j.subject.lower()]
    if cited:
        what += (f"; a cited figure ({Cited.of(cited[0]).source or 'third party'}: "
                 f"{fmt_value(cited[0].value, cited[0].unit)}) is reported but is not evidence from our data")
    if f is None or f.value is None:
        return j.verdict("unverifiable", f, reason=what + (f"; {f.note}" if f is not None and f.note else ""))
    day = finding_day(f)
    have = f"BTC+ETH was {fmt_value(f.value, f.unit)} on {day} (UTC day, not a rolling {j.c.window})"
    claimed = j.c.value
    if j.id.endswith("_usd") and j.c.comparator == "gt" and isinstance(claimed, float) and f.value > claimed:
        return j.verdict("supported", f, computed=f.value, difference=f.value - claimed, reason=(
            f"{what}; BTC+ETH alone ({fmt_value(f.value, f.unit)}, {day}) already exceeds the claim, and an all-coin "
            "total can only be larger"))
    if j.id.endswith("_usd") and j.c.comparator in ("gt", "approx") and isinstance(claimed, float):
        return j.verdict("unverifiable", f, computed=f.value, difference=f.value - claimed, reason=(
            f"{what}; {have}, a lower bound for all coins that neither confirms nor refutes "
            f"{fmt_value(claimed, 'USD')}"))
    return j.verdict("unverifiable", f, computed=f.value, reason=(
        f"{what}; {have}: a share over BTC and ETH is not a share over all coins"
        if j.id.endswith("_pct") else f"{what}; {have}"))


RULES = [ClaimRule(ids=("liquidations.*",), scope=_wider_scope)]
