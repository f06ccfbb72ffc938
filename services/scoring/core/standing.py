"""A branch's standing in a period: its three streams merged, its members, its per-member scores.

One rule for every answer that shows a branch's score (rankings and their stream, a branch's
breakdown and own rank, compliance, advanced candidates) and for the fault suite's oracle.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.core.rulebook import DIMENSIONS, Rulebook
from services.scoring.core.scores import per_member

# One stream's part of a branch's period: raw points per dimension, members seen, newest event time.
Part = tuple[Mapping[str, float], Iterable[str], datetime | None]


@dataclass(frozen=True, slots=True)
class BranchPeriod:
    """One branch's raw points in a period, all streams together (whole branch, after caps)."""

    branch_id: str
    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    active_members: tuple[str, ...] = ()  # members seen in the period's records, sorted
    last_event_time: datetime | None = None


def merge(branch_id: str, parts: Iterable[Part]) -> BranchPeriod | None:
    """The streams' scores of one branch in one period added up: points per dimension summed, a
    member counted once however many streams name them, the newest event time; None without any."""
    points = dict.fromkeys(DIMENSIONS, 0.0)
    members: set[str] = set()
    last: datetime | None = None
    found = False
    for part_points, part_members, t in parts:
        found = True
        for d in DIMENSIONS:
            points[d] += part_points.get(d, 0.0)
        members.update(part_members)
        if t is not None and (last is None or t > last):
            last = t
    return BranchPeriod(branch_id, points, tuple(sorted(members)), last) if found else None


def members(registered: int | None, seen: int) -> int:
    """A branch's members: the per-member divisor of its scores and the signatures its yearly
    pledge needs. The registered number; until the branch is registered, the members seen in its
    records of the period (all streams), and at least 1."""
    return registered if registered is not None else max(seen, 1)


@dataclass(frozen=True, slots=True)
class Standing:
    """A branch's standing in one period, as every answer shows it."""

    branch_id: str
    registered: bool
    members: int
    points: dict[str, float]  # whole branch, after caps
    scores: dict[str, float]  # per member: each dimension and the weighed total, to 4 decimals
    last_event_time: datetime | None


def standing(row: BranchPeriod, registered_members: int | None, rulebook: Rulebook) -> Standing:
    """`row`'s standing: `registered_members` is the registry's number, None if not registered."""
    n = members(registered_members, len(row.active_members))
    return Standing(
        row.branch_id,
        registered_members is not None,
        n,
        row.points,
        per_member(row.points, n, rulebook),
        row.last_event_time,
    )
