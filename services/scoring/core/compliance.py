"""Compliance with the required cadences of organisational life: done, due or overdue."""

from dataclasses import dataclass

from services.scoring.core.periods import months_in, periods_of_month, year_of

COLOURS = {"done": "green", "due": "yellow", "overdue": "red"}
_UNIT_INDEX = {"month": 0, "quarter": 1, "year": 2}


@dataclass(frozen=True)
class Item:
    """One required activity in one window (e.g. the lecture hall of 2022-08)."""

    kind: str
    window: str
    needed: int
    done: int
    status: str  # done | due | overdue

    @property
    def colour(self) -> str:
        return COLOURS[self.status]


def windows(period: str, unit: str) -> list[str]:
    """The cadence windows of `unit` that a period covers (or the one window that contains it)."""
    seen: list[str] = []
    for month in months_in(period):
        window = periods_of_month(month)[_UNIT_INDEX[unit]]
        if window not in seen:
            seen.append(window)
    return seen


def check(
    counts: dict[str, dict[str, int]], period: str, cadence: dict[str, str], members: int, today_month: str
) -> list[Item]:
    """Each required kind in each window of `period`: done when recorded often enough; otherwise
    due while the window is still open (today is in it or before it), else overdue.

    `counts` maps month -> kind -> records. The yearly pledge is needed from every member; the
    rest once per window by the branch.
    """
    items = []
    for kind, unit in cadence.items():
        needed = max(members, 1) if kind == "integrity_pledge" else 1
        for window in windows(year_of(period) if unit == "year" else period, unit):
            months = months_in(window)
            done = sum(counts.get(m, {}).get(kind, 0) for m in months)
            if done >= needed:
                status = "done"
            else:
                status = "due" if months[-1] >= today_month else "overdue"
            items.append(Item(kind, window, needed, done, status))
    return items


def overall(items: list[Item]) -> tuple[str, float]:
    """The worst colour, and the share of items done."""
    if not items:
        return "green", 1.0
    statuses = {i.status for i in items}
    worst = "overdue" if "overdue" in statuses else "due" if "due" in statuses else "done"
    return COLOURS[worst], sum(i.status == "done" for i in items) / len(items)
