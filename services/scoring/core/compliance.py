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


@dataclass(frozen=True)
class Window:
    """One required kind in one window, as every branch is judged on it (see `plan`)."""

    kind: str
    window: str
    months: tuple[str, ...]
    per_member: bool  # the yearly pledge is needed from every member; the rest once per window
    still_open: bool  # today is in the window or before it: not done is due, not overdue


def plan(period: str, cadence: dict[str, str], today_month: str) -> list[Window]:
    """The windows `check` judges in `period`: the same for every branch, so worked out once."""
    return [
        Window(
            kind,
            window,
            tuple(months_in(window)),
            kind == "integrity_pledge",
            months_in(window)[-1] >= today_month,
        )
        for kind, unit in cadence.items()
        for window in windows(year_of(period) if unit == "year" else period, unit)
    ]


def done_counts(counts: dict[str, dict[str, int]], windows_: list[Window]) -> tuple[int, ...]:
    """Records of each window's kind within it. `counts` maps month -> kind -> records."""
    done = []
    for w in windows_:  # plain loops: this runs for every branch and window of a city
        n = 0
        for m in w.months:
            if month := counts.get(m):
                n += month.get(w.kind, 0)
        done.append(n)
    return tuple(done)


def judge(w: Window, done: int, members: int) -> Item:
    needed = max(members, 1) if w.per_member else 1
    status = "done" if done >= needed else "due" if w.still_open else "overdue"
    return Item(w.kind, w.window, needed, done, status)


@dataclass(frozen=True, slots=True)
class Tally:
    """What one branch's judged windows say together: the one compliance share every answer uses."""

    colour: str  # the worst of its windows'
    done_share: float  # windows done / windows judged: what /v1/compliance shows
    # Windows done / windows closed (done or overdue): what the advanced rule holds against
    # min_compliance. A window still open and not yet done counts neither way: in March a
    # branch that kept every closed window has kept 100%, not a quarter of the year.
    kept_share: float


def _tally(done: int, due: int, overdue: int) -> Tally:
    judged, closed = done + due + overdue, done + overdue
    if not judged:
        return Tally("green", 1.0, 1.0)
    worst = "overdue" if overdue else "due" if due else "done"
    return Tally(COLOURS[worst], done / judged, done / closed if closed else 1.0)


def tally(windows_: list[Window], dones: tuple[int, ...], members: int) -> Tally:
    """`overall` of the judged windows, without building the items."""
    done = due = overdue = 0
    for w, n in zip(windows_, dones, strict=True):
        if n >= (max(members, 1) if w.per_member else 1):
            done += 1
        elif w.still_open:
            due += 1
        else:
            overdue += 1
    return _tally(done, due, overdue)


def check(
    counts: dict[str, dict[str, int]], period: str, cadence: dict[str, str], members: int, today_month: str
) -> list[Item]:
    """Each required kind in each window of `period`: done when recorded often enough; otherwise
    due while the window is still open (today is in it or before it), else overdue.

    `counts` maps month -> kind -> records. The yearly pledge is needed from every member; the
    rest once per window by the branch.
    """
    windows_ = plan(period, cadence, today_month)
    return [judge(w, done, members) for w, done in zip(windows_, done_counts(counts, windows_), strict=True)]


def overall(items: list[Item]) -> Tally:
    """The worst colour and the shares of the items (see Tally)."""
    statuses = [i.status for i in items]
    return _tally(statuses.count("done"), statuses.count("due"), statuses.count("overdue"))
