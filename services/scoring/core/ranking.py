"""Competition ranking (1, 2, 2, 4) of branches by one score."""

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ranked:
    rank: int
    branch_id: str
    value: float


def sort_key(branch: str, value: float) -> tuple[float, str]:
    """Highest value first (to 4 decimals), then by branch id."""
    return -round(value, 4), branch


def rank(values: dict[str, float], top: int | None = None) -> list[Ranked]:
    """Rank by value, highest first. Equal values (to 4 decimals) share a rank and the next rank
    skips (1, 2, 2, 4); within a tie, rows are listed by branch id so the order is stable.
    With `top`, only the rows ranked `top` or better (ties at the boundary included)."""
    return rank_ordered(sorted(values.items(), key=lambda kv: sort_key(*kv)), top)


def rank_ordered(ordered: Iterable[tuple[str, float]], top: int | None = None) -> list[Ranked]:
    """`rank` of (branch, value) pairs already in `sort_key` order."""
    out: list[Ranked] = []
    for position, (branch, value) in enumerate(ordered, start=1):
        tied = out and round(out[-1].value, 4) == round(value, 4)
        ranked = out[-1].rank if tied else position
        if top is not None and ranked > top:
            break
        out.append(Ranked(ranked, branch, value))
    return out


def rank_at(keys: Sequence[float], i: int) -> int:
    """The competition rank of position `i` of a ranking whose rounded keys (`sort_key`'s first
    part, ascending) are `keys`: one more than the rows ranked strictly above it, as `rank` says."""
    return bisect_left(keys, keys[i]) + 1


def rank_of(keys: Sequence[float], value: float) -> int:
    """The competition rank a row of `value` has in a ranking whose rounded keys are `keys`."""
    return bisect_left(keys, sort_key("", value)[0]) + 1
