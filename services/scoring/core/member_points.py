"""A member's scores added up over their ledgers (each branch and stream they have records in):
what the member routes answer and what the yearly grades read as a member's year points."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.core.rulebook import DIMENSIONS
from services.scoring.core.summary import KindTotals, MemberSummary


def weighted(points: Mapping[str, float], weights: Mapping[str, float]) -> dict[str, float]:
    """Points per dimension and their rulebook-weighted "total", to 4 decimals."""
    out = {d: round(points.get(d, 0.0), 4) for d in DIMENSIONS}
    out["total"] = round(sum(weights[d] * points.get(d, 0.0) for d in DIMENSIONS), 4)
    return out


@dataclass
class MemberTotals:
    """One member's points in one period over the ledgers given, and where they came from."""

    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    kinds: dict[tuple[str, str], KindTotals] = field(default_factory=dict)  # (stream, kind) ->
    branches: dict[str, dict[str, float]] = field(default_factory=dict)  # branch -> points
    last_event_time: datetime | None = None


def member_totals(summaries: Iterable[MemberSummary], period: str) -> MemberTotals:
    """The summaries' scores in `period` added up (summaries of one member; any number of branches)."""
    out = MemberTotals()
    for s in summaries:
        score = s.scores.get(period)
        if score is None:
            continue
        branch = out.branches.setdefault(s.branch_id, dict.fromkeys(DIMENSIONS, 0.0))
        for d in DIMENSIONS:
            out.points[d] += score.points.get(d, 0.0)
            branch[d] += score.points.get(d, 0.0)
        for kind, t in score.kinds.items():
            held = out.kinds.get((s.stream, kind))
            out.kinds[(s.stream, kind)] = t if held is None else _added(held, t)
        t_last = s.last_event_time
        if t_last is not None and (out.last_event_time is None or t_last > out.last_event_time):
            out.last_event_time = t_last
    return out


def _added(a: KindTotals, b: KindTotals) -> KindTotals:
    return KindTotals(a.count + b.count, a.hours + b.hours, a.points + b.points, a.sessions + b.sessions)


def members_points(
    summaries: Iterable[MemberSummary], period: str, weights: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """member -> points per dimension in `period` and the weighted "total", summed over every
    ledger given (members without scores in the period are left out)."""
    raw: dict[str, dict[str, float]] = {}
    for s in summaries:
        score = s.scores.get(period)
        if score is None:
            continue
        mine = raw.setdefault(s.member_id, dict.fromkeys(DIMENSIONS, 0.0))
        for d in DIMENSIONS:
            mine[d] += score.points.get(d, 0.0)
    return {m: weighted(p, weights) for m, p in raw.items()}
