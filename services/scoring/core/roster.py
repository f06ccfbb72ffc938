"""The registry's history (登记册): branches and members as effective-dated versions, folded from
the registry events, and what follows from them for a period: a branch's registered fields, its
roster and so its member count, a member's branch on a day. Pure rules: no I/O, no clock."""

import bisect
import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

ROLES = ("secretary", "committee", "member")
ROLE_LABELS = {"secretary": "书记 Secretary", "committee": "委员 Committee member", "member": "党员 Member"}
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BranchVersion:
    """A branch's registered fields from `effective` on (None: for every period, as before history)."""

    branch_id: str
    name: str
    court: str
    court_name: str | None
    members: int
    effective: date | None = None


@dataclass(frozen=True, slots=True)
class MemberVersion:
    """A member's place from `effective` on: the branch, the role, the dates of membership."""

    member_id: str
    branch_id: str
    role: str
    joined: date
    left: date | None
    effective: date


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One member as a roster lists it (its court: its branch's, as registered then)."""

    member_id: str
    branch_id: str
    court: str | None
    role: str
    joined: date
    left: date | None


class InvalidVersion(ValueError):
    """A registry change the rules refuse; the message says why."""


def check_member(version: MemberVersion) -> None:
    """InvalidVersion unless the version's dates make sense (left on or after joined)."""
    if version.role not in ROLES:
        raise InvalidVersion(f"role: one of {', '.join(ROLES)}")
    if version.left is not None and version.left < version.joined:
        raise InvalidVersion("left: before joined")


def _key(effective: date | None) -> date:
    return effective or date.min


@dataclass
class Registry:
    """Every branch's and member's versions, ordered by effective date (a projector's state)."""

    branches: dict[str, list[BranchVersion]] = field(default_factory=dict)
    members: dict[str, list[MemberVersion]] = field(default_factory=dict)
    by_branch: dict[str, set[str]] = field(default_factory=dict)  # members ever placed in a branch

    def apply(self, version: BranchVersion | MemberVersion) -> None:
        """Fold one registry event in. A branch version without a date replaces the branch's
        history (its fields for every period, as a PUT did before the registry had dates); a dated
        one, like a member's, applies from its date on and replaces one of the same date."""
        if isinstance(version, BranchVersion):
            if version.effective is None:
                self.branches[version.branch_id] = [version]
            else:
                _insert(self.branches.setdefault(version.branch_id, []), version)
            return
        _insert(self.members.setdefault(version.member_id, []), version)
        self.by_branch.setdefault(version.branch_id, set()).add(version.member_id)


def _insert(versions: list, version: BranchVersion | MemberVersion) -> None:
    keys = [_key(v.effective) for v in versions]
    i = bisect.bisect_left(keys, _key(version.effective))
    if i < len(versions) and keys[i] == _key(version.effective):
        versions[i] = version
    else:
        versions.insert(i, version)


def _at(versions: list, day: date) -> int:
    """The index of the version in force on `day`; before the first date, the first version (a
    change applies from its date on, never backwards; the first registration has nothing before it)."""
    i = bisect.bisect_right([_key(v.effective) for v in versions], day) - 1
    return max(i, 0)


def branch_at(registry: Registry, branch_id: str, day: date) -> BranchVersion | None:
    """The branch's registered fields on `day` (None: never registered)."""
    versions = registry.branches.get(branch_id)
    return versions[_at(versions, day)] if versions else None


def version_on(registry: Registry, member_id: str, day: date) -> MemberVersion | None:
    """The member's version in force on `day`, whether or not they were a member then."""
    versions = registry.members.get(member_id)
    return versions[_at(versions, day)] if versions else None


def member_at(registry: Registry, member_id: str, day: date) -> MemberVersion | None:
    """The member's version on `day`, if they were a member then (joined by it, not left before)."""
    v = version_on(registry, member_id, day)
    if v is None:
        return None
    return v if v.joined <= day and (v.left is None or day <= v.left) else None


def _spans(versions: list[MemberVersion]) -> Iterable[tuple[MemberVersion, date, date]]:
    """Each version with the days it was the member's place (its span, cut by joined and left)."""
    for i, v in enumerate(versions):
        start = date.min if i == 0 else v.effective
        end = versions[i + 1].effective - _DAY if i + 1 < len(versions) else date.max
        start, end = max(start, v.joined), min(end, v.left or date.max)
        if start <= end:
            yield v, start, end


def last_day_in(registry: Registry, member_id: str, start: date, end: date) -> MemberVersion | None:
    """The member's place on their last day of membership within [start, end] (None: none)."""
    found = None
    for v, a, b in _spans(registry.members.get(member_id, [])):
        if a <= end and start <= b:
            found = v
    return found


def roster(registry: Registry, branch_id: str, start: date, end: date) -> list[str]:
    """The members of `branch_id` at any day of [start, end]: joined by its end, not left before
    its start (a member moved within it counts in both branches), sorted."""
    found = []
    for member_id in registry.by_branch.get(branch_id, ()):
        spans = _spans(registry.members[member_id])
        if any(v.branch_id == branch_id and a <= end and start <= b for v, a, b in spans):
            found.append(member_id)
    return sorted(found)


def members_in(registry: Registry, branch_id: str, start: date, end: date, registered: int) -> int:
    """A branch's member count for [start, end]: its roster then, falling back to its registered
    `members` where it has none (no member registered in it for those days)."""
    return len(roster(registry, branch_id, start, end)) or registered


def period_days(period: str) -> tuple[date, date]:
    """The first and last day of a period ("2024", "2024-Q3", "2024-08"); year 0000 is read as 0001
    (the calendar's first: nothing is registered so early)."""
    year = max(int(period[:4]), 1)
    if "-Q" in period:
        q = int(period[-1])
        first, last = 3 * q - 2, 3 * q
    elif "-" in period:
        first = last = int(period[5:7])
    else:
        first, last = 1, 12
    return date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1])


def roster_of(
    registry: Registry,
    year: int,
    court: str | None = None,
    branch: str | None = None,
    courts: Mapping[str, str] | None = None,
) -> list[MemberEntry]:
    """The members of a year (one entry each, as of their last day of membership in it), of one
    court or branch (the branch's court as registered on that day; `courts`: the courts of
    branches registered without a history), by member id."""
    year = max(year, 1)  # 0000 read as 0001, as period_days does (no calendar has a year 0)
    start, end = date(year, 1, 1), date(year, 12, 31)
    ids = registry.by_branch.get(branch, set()) if branch is not None else registry.members.keys()
    found = []
    for member_id in sorted(ids):
        v = last_day_in(registry, member_id, start, end)
        if v is None or (branch is not None and v.branch_id != branch):
            continue
        b = branch_at(registry, v.branch_id, min(end, v.left or end))
        where = b.court if b else (courts or {}).get(v.branch_id)
        if court is None or where == court:
            found.append(MemberEntry(member_id, v.branch_id, where, v.role, v.joined, v.left))
    return found
