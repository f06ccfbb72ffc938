"""The 2022 calendar of the courts: working days, holidays and timestamps in China Standard Time."""

import random
from datetime import date, datetime, timedelta, timezone

YEAR = 2022
CST = timezone(timedelta(hours=8), "CST")
MONTHS = tuple(range(1, 13))

# Public holidays of 2022 and the weekend days worked in their place (State Council notice, 2021).
HOLIDAYS = frozenset(
    date(YEAR, m, d)
    for m, d in (
        (1, 1), (1, 2), (1, 3),
        (1, 31), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5), (2, 6),
        (4, 3), (4, 4), (4, 5),
        (4, 30), (5, 1), (5, 2), (5, 3), (5, 4),
        (6, 3), (6, 4), (6, 5),
        (9, 10), (9, 11), (9, 12),
        (10, 1), (10, 2), (10, 3), (10, 4), (10, 5), (10, 6), (10, 7),
    )
)  # fmt: skip
MAKE_UP_DAYS = frozenset(
    date(YEAR, m, d) for m, d in ((1, 29), (1, 30), (4, 2), (4, 24), (5, 7), (10, 8), (10, 9))
)


def is_workday(day: date) -> bool:
    """A day the courts work: a weekday that is no holiday, or a make-up weekend day."""
    return day in MAKE_UP_DAYS or (day.weekday() < 5 and day not in HOLIDAYS)


def days_of(month: int, first: int = 1, last: int = 31) -> list[date]:
    """The days of a month of 2022 between `first` and `last` (inclusive)."""
    days = []
    for d in range(first, last + 1):
        try:
            days.append(date(YEAR, month, d))
        except ValueError:
            break
    return days


def workdays(month: int, first: int = 1, last: int = 31) -> list[date]:
    """The working days of a month of 2022 between `first` and `last`."""
    return [d for d in days_of(month, first, last) if is_workday(d)]


def stamp(day: date, hour: int, minute: int = 0) -> str:
    """An ISO 8601 timestamp with the +08:00 offset."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST).isoformat()


def office_time(rng: random.Random, day: date) -> str:
    """A time in office hours (08:30 to 17:30, on the quarter hour) of `day`."""
    hour = rng.choice((8, 9, 9, 10, 10, 11, 14, 14, 15, 15, 16, 17))
    minute = rng.choice((0, 15, 30, 45)) if 8 < hour < 17 else 30
    return stamp(day, hour, minute)


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1
