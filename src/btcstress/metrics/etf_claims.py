"""The ETF area's claim rules (see btcstress/claims/rules.py): a day's net flow exists in several
vintages (a preliminary table published before some funds reported, then the final one), so a quoted
figure may match another vintage, or the total without one or two funds; a streak or week-to-date
sum says which of its days were preliminary."""

from __future__ import annotations

from itertools import combinations

from btcstress.claims.rules import ClaimRule, finding_day, fmt_value, holds
from btcstress.details import EtfDay, EtfSpan


def _vintage(j, f, ok):
    """The vintage read, the other vintages the claim matches and, when it does not hold, the total
    without the funds a preliminary table was missing."""
    d, out = EtfDay.of(f), []
    state = (f"preliminary vintage published {d.vintage}: {', '.join(d.missing_funds)} "
             "not yet reported" if d.preliminary else f"final vintage (published {d.vintage})")
    out.append(f"ETF day {d.date}, {state}")
    claimed = float(j.c.value)
    for v in d.vintages:
        if v.vintage == d.vintage or v.net_flow_usd is None:
            continue
        if holds("approx", claimed, float(v.net_flow_usd), j.id, "USD", claimed)[0]:
            kind = f"preliminary, {', '.join(v.missing_funds)} not reported" if v.preliminary else "final"
            out.append(f"the claim matches another vintage of that day: {fmt_value(v.net_flow_usd, 'USD')} "
                       f"published {v.vintage} ({kind})")
            j.alternatives.append({"what": "vintage", "vintage": v.vintage, "value": v.net_flow_usd,
                                   "preliminary": v.preliminary})
    if not ok:
        out += _without_funds(j, f, d, claimed)
    return out


def _without_funds(j, f, d: EtfDay, claimed: float) -> list[str]:
    """A figure published before some funds reported: the total without them (the funds' own findings)."""
    funds = [x for x in j.fs.all("etf.flow_usd") if str(finding_day(x)) == d.date and x.value]
    for k in (1, 2):
        for combo in combinations(funds, k):
            without = f.value - sum(x.value for x in combo)
            if holds("approx", claimed, without, j.id, "USD", claimed, tight=True)[0]:
                names = " and ".join(x.subject for x in combo)
                j.alternatives.append({"what": "preliminary (funds missing)", "missing_funds":
                                       [x.subject for x in combo], "value": without})
                return [f"the claim equals the total without {names} "
                        f"({', '.join(fmt_value(x.value, 'USD') for x in combo)}): {fmt_value(without, 'USD')}, what a "
                        f"preliminary table shows before {names} reported; the final figure is "
                        f"{fmt_value(f.value, 'USD')}"]
    return []


def _preliminary_days(j, f, ok):
    prelim = [d.date for d in EtfSpan.of(f).days if d.preliminary]
    return [f"preliminary days: {', '.join(prelim)}" if prelim else "every day read from its final vintage"]


RULES = [
    ClaimRule(ids=("etf.net_flow_usd",), reasons=_vintage),
    ClaimRule(ids=("etf.outflow_streak_usd",), alternatives=("etf.week_to_date_usd",), reasons=_preliminary_days),
    ClaimRule(ids=("etf.week_to_date_usd",), alternatives=("etf.outflow_streak_usd",), reasons=_preliminary_days),
    ClaimRule(ids=("etf.holders_cost_basis_usd",), per_btc=True),
]
