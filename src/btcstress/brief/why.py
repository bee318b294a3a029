""""Why it fell": the forces ranked by how abnormal they were against their own history.

The forces and their key findings are declared by their areas (`force`, `pressure` in btcstress.areas).
Each force has key findings that measure *pressure* on the price (flows and forced selling), not its
consequences (a miner margin or a treasury's P&L falls because the price fell, so they are not
evidence of why):

- market-wide selling: `market.total_cap_change_usd` (the day's change in total crypto value);
- miners: `miners.outflow_btc_1d`, `miners.to_exchange_btc_1d` (coins leaving miner wallets, to exchanges);
- ETF flows: `etf.net_flow_usd` (net creations minus redemptions);
- leverage: `liquidations.total_usd` (BTC+ETH, forced selling), `derivatives.open_interest_usd` (deleveraging);
- corporate treasuries: `treasury.mnav` for Strategy (the premium that funds the treasury bid).

A force's score is the largest |z-score| among its key findings (`Finding.unusual`, computed by each
area against its trailing history, usually 365 days). This module only orders and words them; the
statistics are the findings'. Forces with no z-score on the day are listed as not available.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from btcstress.brief import fmt
from btcstress.brief.model import Fragment, Paragraph, Ref, Section, TableBlock
from btcstress.details import Flagged, day_of
from btcstress.findings import Finding, FindingSet
from btcstress.metrics.stats import past

ABNORMAL = 2.0  # |z| from which a force is called abnormal in the text


@dataclass
class Force:
    name: str
    keys: list[tuple[str, str | None]]  # (finding id, subject)
    evidence: Finding | None = None
    score: float | None = None
    others: list[Finding] = field(default_factory=list)
    flagged: bool = False  # it has values, but every one is flagged by the quality checks: not ranked


def forces_spec() -> list[Force]:
    """The forces and their key findings, from the area registry (names as the brief prints them)."""
    from btcstress import areas
    return [Force(a.force, list(a.pressure)) for a in areas.all() if a.force]


def forces(fs: FindingSet) -> list[Force]:
    """Every area that is a force (its `force` and `pressure` in the area registry), most abnormal first."""
    out = forces_spec()
    for force in out:
        valued = [f for f in (_get(fs, i, s) for i, s in force.keys) if f is not None and f.value is not None]
        found = [f for f in valued if not Flagged.of(f).suspect]  # a flagged value never ranks a force
        force.flagged = bool(valued) and not found
        scored = [f for f in found if _z(f) is not None]
        if scored:
            top = max(scored, key=lambda f: abs(_z(f)))
            force.score = abs(_z(top))  # ranked by the largest z-score among its key findings
            force.evidence = top
            outer = [f for f in scored if _extreme(f)]
            if force.score < ABNORMAL and not _extreme(top) and outer:
                # A key finding in the outer 5% makes the force notable, and is the one stated: listed as
                # "normal" by its top z-score, it printed an extreme number in the normal list.
                force.evidence = max(outer, key=lambda f: abs(_z(f)))
        elif found:
            force.evidence = found[0]  # reported, but too little history to rank it
        force.others = [f for f in found if f is not force.evidence]
        if force.name == "Market-wide selling" and force.evidence is not None and force.evidence.value > 0:
            force.name = "Market-wide buying"  # the label follows the sign of the day's change
    return sorted(out, key=lambda f: -(f.score if f.score is not None else -1))


def _get(fs: FindingSet, id: str, subject: str | None) -> Finding | None:
    """Our own finding first; a cited one (mNAV is Artemis' published ratio) only when it is the only one."""
    found = [f for f in fs.all(id) if (subject is None or f.subject == subject) and not f.window.startswith("24h")]
    return next((f for f in found if f.kind != "cited"), found[0] if found else None)


def _z(f: Finding) -> float | None:
    z = (f.unusual or {}).get("zscore")
    return float(z) if z is not None else None


def stat(f: Finding) -> str:
    """'+6.1σ' and, where the finding has one, its percentile: the statistic stated in the text."""
    u = f.unusual or {}
    z, p = u.get("zscore"), u.get("percentile")
    out = f"{fmt.sigma(z)}" if z is not None else ""
    if p is not None:
        base = past(u)
        rank = (f"the highest of {base}" if round(p, 1) >= 100 else f"the lowest of {base}" if round(p, 1) <= 0 else
                f"top {100 - p:.1f}% of {base}" if p >= 50 else f"bottom {p:.1f}% of {base}")
        out += f", {rank}" if out else rank
    elif z is not None and past(u) != "the past year":
        out += f" against {past(u)}"  # a base shorter than a year is named
    return out


def _evidence(force: Force) -> list[Fragment]:
    """The force's evidence as a noun phrase, every number a Ref."""
    f = force.evidence
    assert f is not None
    day = fmt.long_date(day_of(f) or f.window.rsplit(":", 1)[-1])
    if f.id == "market.total_cap_change_usd":
        return [fmt.ref(f, "usd_short", signed=True), f" of total crypto value on {day}"]
    if f.id == "miners.outflow_btc_1d":
        out = [fmt.ref(f, "BTC"), f" leaving miner wallets on {day}"]
        toex = next((o for o in force.others if o.id == "miners.to_exchange_btc_1d"), None)
        if toex is not None:
            out += [", ", fmt.ref(toex, "BTC"), " of it to exchanges"]
        return out
    if f.id == "miners.to_exchange_btc_1d":
        return [fmt.ref(f, "BTC"), f" sent by miners to exchanges on {day}"]
    if f.id == "etf.net_flow_usd":
        return ["a net flow of ", fmt.ref(f, "usd_short", signed=True), f" through US spot ETFs on {day}"]
    if f.id == "liquidations.total_usd":
        return [fmt.ref(f, "usd_short"), f" of BTC and ETH positions liquidated on {day}"]
    if f.id == "derivatives.open_interest_usd":
        return ["BTC futures open interest at ", fmt.ref(f, "usd_short"), f" on {day}"]
    if f.id == "treasury.mnav":
        return ["Strategy valued at ", fmt.ref(f, digits=2), f" times its bitcoin (mNAV) on {day}"]
    return [fmt.ref(f)]


def _item(force: Force) -> list[Fragment]:
    name = force.name[0].lower() + force.name[1:] if not force.name[:3].isupper() else force.name
    return [name, " — ", *_evidence(force), " (", Ref(text=stat(force.evidence), finding=force.evidence), ")"]


def section(fs: FindingSet) -> Section | None:
    ranked = forces(fs)
    scored = [f for f in ranked if f.score is not None]
    if not scored:
        return None
    abnormal = [f for f in scored if f.score >= ABNORMAL]
    # Under 2σ but in the outer 5% of its own history: notable by rank, not "normal".
    extreme = [f for f in scored if f.score < ABNORMAL and _extreme(f.evidence)]
    calm = [f for f in scored if f.score < ABNORMAL and not _extreme(f.evidence)]
    parts: list[Fragment] = []
    if abnormal:
        parts += ["Most abnormal: ", *_item(abnormal[0]), ". "]
        rest = abnormal[1:]
        for i, force in enumerate(rest):
            parts += (["Then " if i == 0 else ("; and " if i == len(rest) - 1 else "; ")] + _item(force))
        if rest:
            parts.append(". ")
    else:
        parts.append("No force stood out: none was two standard deviations from its own history. ")
    if extreme:
        parts.append("Under two standard deviations but in the outer 5% of their own history: ")
        for i, force in enumerate(extreme):
            parts += (["; "] if i else []) + _item(force)
        parts.append(". ")
    if calm:
        parts.append("Within their normal range: " if abnormal or extreme else "The largest moves: ")
        for i, force in enumerate(calm):
            parts += (["; "] if i else []) + _item(force)
        parts.append(". ")
    unranked = [f for f in ranked if f.score is None and f.evidence is not None]
    if unranked:
        parts.append("Reported but with too little history to rank: ")
        for i, force in enumerate(unranked):
            parts += (["; "] if i else []) + [force.name[0].lower() + force.name[1:], " — ", *_evidence(force)]
        parts.append(". ")
    flagged = [f.name for f in ranked if f.evidence is None and f.flagged]
    if flagged:  # its section reports the value with the flag: "not available" would contradict it
        parts.append(f"Not ranked, their values flagged as suspect by the data-quality checks "
                     f"(`btcstress quality`): {', '.join(flagged)}. ")
    missing = [f.name for f in ranked if f.evidence is None and not f.flagged]
    if missing:
        parts.append(f"Not available on this date: {', '.join(missing)}. ")
    parts.append("Forces are ranked by the largest z-score among their key findings, each against its own "
                 "history; the ranking says how unusual each force was, not how much of the move it caused.")
    rows = []
    for n, force in enumerate(ranked, start=1):
        f = force.evidence
        if f is None and force.flagged:
            rows.append([str(n), force.name, "flagged as suspect (data-quality checks)", "not ranked", "not ranked"])
            continue
        if f is None:
            rows.append([str(n), force.name, fmt.NA, fmt.NA, fmt.NA])
            continue
        rows.append([str(n), force.name, f.id, fmt.ref(f, _style(f)),
                     Ref(text=stat(f), finding=f) if force.score is not None else "too little history to rank"])
    count = fmt.NUMBERS.get(len(ranked), str(len(ranked)))
    table = TableBlock(caption=f"The {count} forces, most abnormal first", columns=["", "Force", "Evidence", "Value",
                                                                                  "Against its own history"],
                       rows=rows, align=["r", "l", "l", "r", "l"])
    note = Paragraph.of("Key findings per force measure pressure on the price (flows, forced selling, the "
                        "treasury premium), not consequences of it (margins, P&L). z-scores and percentiles are "
                        "each finding's own, against its trailing history (usually 365 days); see the notes.")
    chg = fs.get("price.change_1d_pct")
    title = "Why it fell" if chg is not None and chg.value is not None and chg.value < 0 else "What moved"
    return Section(id="why", title=title, paragraphs=[Paragraph(parts=parts)], tables=[table], notes=[note])


def _extreme(f: Finding | None) -> bool:
    p = ((f.unusual or {}) if f is not None else {}).get("percentile")
    return p is not None and (p <= 5 or p >= 95)


def _style(f: Finding) -> str:
    if f.unit == "USD":
        return "usd_short"
    if f.unit == "ratio":
        return "auto"
    return f.unit
