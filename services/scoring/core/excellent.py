"""The excellent places (优秀等次) of one court: among members graded 好, the top by year points, within
a quota of the court's members; members of the year's advanced branches have a larger share."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from services.scoring.core.grade_rules import ExcellentRule
from services.scoring.core.ranking import rank


@dataclass(frozen=True)
class Member:
    """A graded member of the court: its branch, grade and year points."""

    member_id: str
    branch_id: str
    grade: str
    points: float


@dataclass(frozen=True)
class Place:
    rank: int
    member_id: str
    branch_id: str
    points: float


@dataclass(frozen=True)
class Pool:
    """One share of the court: its members, the quota with its arithmetic, and who fills it."""

    name: str  # "advanced" (members of advanced branches) or "other"
    members: int
    share: float
    quota: int
    arithmetic: str
    candidates: int  # members of the pool graded 好
    places: list[Place]


def quota(members: int, share: float) -> tuple[int, str]:
    """`share` of `members`, rounded up, and the sum that says so."""
    exact = members * share
    q = math.ceil(round(exact, 9))  # 20 x 0.15 is 3.0000000000000004 in floating point: still 3
    return q, f"ceil({members} × {share * 100:g}%) = ceil({exact:.4g}) = {q}"


def _pool(name: str, members: list[Member], share: float) -> Pool:
    q, arithmetic = quota(len(members), share)
    good = {m.member_id: m for m in members if m.grade == "good"}
    # Competition ranking by year points: a tie at the boundary names every tied member.
    ranked = rank({m: g.points for m, g in good.items()}, top=q) if q else []
    places = [Place(r.rank, r.branch_id, good[r.branch_id].branch_id, r.value) for r in ranked]
    return Pool(name, len(members), share, q, arithmetic, len(good), places)


def select(members: list[Member], advanced: set[str], rule: ExcellentRule) -> list[Pool]:
    """The court's two pools: members of advanced branches (base share plus the extra) and the
    others (base share). Quotas count every graded member; only members graded 好 fill them."""
    in_advanced = [m for m in members if m.branch_id in advanced]
    others = [m for m in members if m.branch_id not in advanced]
    return [
        _pool("advanced", in_advanced, rule.base_share + rule.advanced_extra),
        _pool("other", others, rule.base_share),
    ]


def by_court(
    members: Mapping[str, list[Member]], advanced: Mapping[str, set[str]], rule: ExcellentRule
) -> dict[str, list[Pool]]:
    """select() for every court (court -> its graded members; court -> its advanced branches)."""
    return {c: select(ms, advanced.get(c, set()), rule) for c, ms in sorted(members.items())}
