"""Scores derived from a ledger: per period, points per dimension with caps, and the breakdown."""

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from services.scoring.core.facts import EXAM_KINDS, Fact
from services.scoring.core.periods import periods_of_month
from services.scoring.core.rulebook import DIMENSIONS, SESSION_KINDS, Rulebook


@dataclass
class KindTally:
    count: int = 0  # records counted: for meetings and training, attendances
    hours: float = 0.0
    points: float = 0.0  # before caps
    sessions: set[str] = field(default_factory=set)  # meetings and training: the sessions held


@dataclass
class PeriodScore:
    """A branch's raw (not yet per-member) points in one period, and why."""

    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    kinds: dict[str, KindTally] = field(default_factory=lambda: defaultdict(KindTally))
    caps_hit: list[dict] = field(default_factory=list)
    members: set[str] = field(default_factory=set)


def _counted(facts: Iterable[Fact]) -> list[Fact]:
    # A member attends a session once, however many times it is reported under new ids.
    seen: set[tuple[str, str, str]] = set()
    counted = []
    for f in sorted(facts, key=lambda f: f.event_id):  # sorted: the same fact wins every time
        if f.kind in SESSION_KINDS:
            key = (f.member_id, f.kind, f.session_id)
            if key in seen:
                continue
            seen.add(key)
        elif f.kind in EXAM_KINDS:  # ballots and appraisals grade members (core/grades.py): no points
            continue
        counted.append(f)
    return counted


@dataclass
class MemberPeriodScore:
    """One member's points in one period of one ledger (after the member's monthly caps), and why."""

    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    kinds: dict[str, KindTally] = field(default_factory=lambda: defaultdict(KindTally))


MemberScores = dict[str, dict[str, MemberPeriodScore]]  # member -> period -> score
_NOBODY: frozenset[str] = frozenset()


def score(facts: Iterable[Fact], rulebook: Rulebook) -> dict[str, PeriodScore]:
    """Score every month, quarter and year the facts touch."""
    return scores_and_members(facts, rulebook, _NOBODY)[0]


def member_scores(
    facts: Iterable[Fact], rulebook: Rulebook, members: Collection[str] | None = None
) -> MemberScores:
    """Each member's (None: every member's) capped points and tallies per period, counted as score()
    counts them: the members' points of a period add up to the branch's."""
    return scores_and_members(facts, rulebook, members)[1]


def scores_and_members(
    facts: Iterable[Fact], rulebook: Rulebook, members: Collection[str] | None
) -> tuple[dict[str, PeriodScore], MemberScores]:
    """score() and member_scores() in one pass (the worker needs both for the members a batch
    touched): one counting rule for both, so they can never disagree."""
    raw: dict[tuple[str, str, str], float] = defaultdict(float)  # (month, member, dimension)
    periods: dict[str, PeriodScore] = defaultdict(PeriodScore)
    everyone, wanted = members is None, members or _NOBODY
    mine: MemberScores = {}
    for f in _counted(facts):
        rule = rulebook.kinds[f.kind]
        points = rule.points * (f.hours if rule.per == "hour" else 1.0)
        raw[(f.month, f.member_id, rule.dimension)] += points
        member = None
        if everyone or f.member_id in wanted:
            member = mine.setdefault(f.member_id, defaultdict(MemberPeriodScore))
        for period in periods_of_month(f.month):
            tally = periods[period].kinds[f.kind]  # inline, not _count: the worker's hot path
            tally.count += 1
            tally.hours += f.hours
            tally.points += points
            if f.session_id:
                tally.sessions.add(f.session_id)
            periods[period].members.add(f.member_id)
            if member is not None:
                _count(member[period].kinds[f.kind], f, points)
    for (month, member_id, dim), points in sorted(raw.items()):
        cap = rulebook.monthly_cap[dim]
        capped = min(points, cap)
        member = mine.get(member_id)
        for period in periods_of_month(month):
            periods[period].points[dim] += capped
            if member is not None:
                member[period].points[dim] += capped
            if points > cap:
                periods[period].caps_hit.append(
                    {"month": month, "member_id": member_id, "dimension": dim, "points": points, "cap": cap}
                )
    return dict(periods), {m: dict(p) for m, p in mine.items()}


def _count(tally: KindTally, f: Fact, points: float) -> None:
    tally.count += 1
    tally.hours += f.hours
    tally.points += points
    if f.session_id:
        tally.sessions.add(f.session_id)


def per_member(points: dict[str, float], members: int, rulebook: Rulebook) -> dict[str, float]:
    """Normalise by branch size and weigh into the total: branches of any size compare fairly."""
    size = max(members, 1)
    scores = {d: points.get(d, 0.0) / size for d in DIMENSIONS}
    scores["total"] = sum(rulebook.weights[d] * scores[d] for d in DIMENSIONS)
    return {k: round(v, 4) for k, v in scores.items()}
