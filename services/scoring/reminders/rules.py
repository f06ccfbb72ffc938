"""Which reminders are owed on a day: pure rules over judged cadence windows (no I/O, no clock)."""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.scoring.core.periods import COURT_TZ, months_in
from services.scoring.core.rulebook import ReminderRule

DUE, OVERDUE, DIGEST = "reminder.due", "reminder.overdue", "reminder.digest"
TYPES = (DUE, OVERDUE, DIGEST)


@dataclass(frozen=True, slots=True)
class WindowState:
    """One registered branch's record of one required kind in one cadence window."""

    branch_id: str
    name: str
    court: str | None
    kind: str
    window: str  # "2024-03", "2024-Q1" or "2024", as /v1/compliance names it
    needed: int
    done: int

    @property
    def is_done(self) -> bool:
        return self.done >= self.needed


@dataclass(frozen=True)
class Audience:
    """The courts and branches some subscription covers: reminders are owed to someone, so only
    their branches are judged (a city of 10,000 branches with three courts subscribed publishes
    three courts' reminders). A branch covered later gets what it is owed at the next run."""

    courts: frozenset[str]
    branches: frozenset[str]

    def covers(self, branch_id: str, court: str | None) -> bool:
        return branch_id in self.branches or (court is not None and court in self.courts)


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder owed: its id is the same whoever computes it, however often."""

    id: str
    type: str
    branch_id: str
    court: str | None
    data: dict = field(hash=False, compare=False)


def court_day(at: datetime) -> date:
    """The day an instant falls on in Asia/Shanghai: the courts' day, whatever the server's zone."""
    return at.astimezone(COURT_TZ).date()


def last_day(window: str) -> date:
    """The last day of a window (the day it closes at midnight, Asia/Shanghai)."""
    year, month = (int(x) for x in months_in(window)[-1].split("-"))
    return date(year, month, calendar.monthrange(year, month)[1])


def iso_week(today: date) -> str:
    """The ISO week a day falls in, e.g. "2024-W13" (a digest's window)."""
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def reminder_id(type_: str, branch_id: str, window: str, kind: str | None = None) -> str:
    """One id per type, branch, kind and window: what receivers and the scheduler deduplicate by."""
    return ":".join([type_, branch_id, *([kind] if kind else []), window])


def years_to_judge(today: date, rule: ReminderRule) -> list[str]:
    """The years whose windows can be due or recently overdue on `today`."""
    earliest = today - timedelta(days=rule.overdue_days)
    return sorted({str(earliest.year), str(today.year)})


def status_on(state: WindowState, today: date, rule: ReminderRule) -> str | None:
    """DUE, OVERDUE or None (done, not yet near its end, or closed too long ago to tell)."""
    if state.is_done:
        return None
    left = (last_day(state.window) - today).days
    if 0 <= left <= rule.due_days:
        return DUE
    if -rule.overdue_days <= left < 0:
        return OVERDUE
    return None


def _details(state: WindowState, today: date, labels: dict[str, str]) -> dict:
    closes = last_day(state.window)
    return {
        "branch_id": state.branch_id,
        "branch_name": state.name,
        "court": state.court,
        "kind": state.kind,
        "label": labels.get(state.kind, state.kind),
        "window": state.window,
        "closes_on": closes.isoformat(),
        "days_left": (closes - today).days,
        "needed": state.needed,
        "done": state.done,
        "as_of": today.isoformat(),
    }


def owed(
    states: list[WindowState], today: date, rule: ReminderRule, labels: dict[str, str]
) -> list[Reminder]:
    """Every due and overdue reminder on `today`, then each branch's digest of its week."""
    found: list[Reminder] = []
    by_branch: dict[str, list[WindowState]] = {}
    for state in states:
        by_branch.setdefault(state.branch_id, []).append(state)
        if (type_ := status_on(state, today, rule)) is not None:
            rid = reminder_id(type_, state.branch_id, state.window, state.kind)
            found.append(Reminder(rid, type_, state.branch_id, state.court, _details(state, today, labels)))
    found += [digest(mine, today, rule, labels) for _, mine in sorted(by_branch.items())]
    return found


def digest(states: list[WindowState], today: date, rule: ReminderRule, labels: dict[str, str]) -> Reminder:
    """A branch's weekly digest: what is due soon and what of its year so far is overdue."""
    first = states[0]
    due = [s for s in states if status_on(s, today, rule) == DUE]
    # This year's closed windows, and last year's closed lately (in January, December's and Q4's).
    overdue = [
        s
        for s in states
        if not s.is_done
        and last_day(s.window) < today
        and (s.window[:4] == str(today.year) or status_on(s, today, rule) == OVERDUE)
    ]
    week = iso_week(today)
    data = {
        "branch_id": first.branch_id,
        "branch_name": first.name,
        "court": first.court,
        "week": week,
        "as_of": today.isoformat(),
        "due": [_details(s, today, labels) for s in due],
        "overdue": [_details(s, today, labels) for s in overdue],
    }
    return Reminder(reminder_id(DIGEST, first.branch_id, week), DIGEST, first.branch_id, first.court, data)
