"""Closing the year (考核结果公示 and 申诉): numbered versions of a court's frozen year, the appeal
window, appeals and their decisions, and the differences between two versions. Pure: times are
passed in, and the fold decides every event from the log alone (several API processes agree)."""

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any, Literal

import msgspec

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
# Each frozen section is a list of entries, each named by its key fields (a member moved between
# branches in the year is graded in each).
SECTION_KEYS = {
    "advanced_branches": ("branch_id",),  # 先进党支部 of the court (本院) and of the city (市直)
    "grades": ("member_id", "branch_id"),  # 政治素质考察 好/较好/一般/较差 per member
    "excellent": ("member_id", "branch_id"),  # 优秀等次 places
}
Sections = dict[str, list[dict[str, Any]]]


class Finalised(msgspec.Struct, frozen=True, tag="finalised"):
    """A court's year frozen as `version`: the sections as computed at `time`, not a reference."""

    event_id: str
    court: str
    year: str
    version: int
    time: datetime
    actor: str
    rulebook_version: str
    appeals_until: datetime  # exclusive: the window is fixed when the version is made
    sections: Sections


class AppealFiled(msgspec.Struct, frozen=True, tag="appeal_filed"):
    """A member or branch contests `version` of a court's year (申诉)."""

    event_id: str
    appeal_id: str
    court: str
    year: str
    version: int
    time: datetime
    actor: str
    target: Literal["member", "branch"]
    target_id: str
    reason: str


class AppealDecided(msgspec.Struct, frozen=True, tag="appeal_decided"):
    """An admin's decision on an appeal: upheld (维持申诉) or dismissed (驳回)."""

    event_id: str
    appeal_id: str
    court: str
    year: str
    time: datetime
    actor: str
    decision: Literal["upheld", "dismissed"]
    reason: str


Event = Finalised | AppealFiled | AppealDecided


@dataclass(frozen=True)
class Appeal:
    filed: AppealFiled
    decided: AppealDecided | None = None


@dataclass(frozen=True)
class CourtYear:
    """What the log holds for one court and year: its versions in order and its appeals."""

    versions: tuple[Finalised, ...] = ()
    appeals: dict[str, Appeal] = field(default_factory=dict)

    @property
    def latest(self) -> Finalised | None:
        return self.versions[-1] if self.versions else None


def key_of(court: str, year: str) -> str:
    """The topic key of a court's year: all its events in one partition, in order."""
    return f"{court}|{year}"


def next_version(state: CourtYear) -> int:
    """The number the next version of this court's year takes (1 for the first)."""
    return len(state.versions) + 1


def appeals_until(finalised_at: datetime, appeal_days: int) -> datetime:
    """The end of the window (exclusive): midnight after the `appeal_days`-th Shanghai day after
    the version's own day, so the last day counts whole (0: the version's day only)."""
    day = finalised_at.astimezone(SHANGHAI).date() + timedelta(days=appeal_days + 1)
    return datetime.combine(day, time(0), SHANGHAI)


def why_not_appealable(state: CourtYear, now: datetime) -> str | None:
    """Why an appeal cannot be filed at `now` (None: it can, against the latest version)."""
    latest = state.latest
    if latest is None:
        return "the year is not finalised for this court: there is nothing to appeal yet"
    if now >= latest.appeals_until:
        closed = latest.appeals_until.astimezone(SHANGHAI).isoformat()
        return f"the appeal window of version {latest.version} closed at {closed}"
    return None


def why_undecidable(state: CourtYear, appeal_id: str) -> str | None:
    """Why an appeal cannot be decided (None: it can): unknown, or decided already."""
    appeal = state.appeals.get(appeal_id)
    if appeal is None:
        return f"no appeal {appeal_id} for this court and year"
    if appeal.decided is not None:
        return f"appeal {appeal_id} was decided already ({appeal.decided.decision})"
    return None


def apply(state: CourtYear, event: Event) -> tuple[CourtYear, str | None]:
    """The state after `event` and None, or the state unchanged and why the event does not count
    (a version number already taken, an appeal after its window or against an older version, a
    second decision): the first event in the log wins, whichever process wrote it."""
    if isinstance(event, Finalised):
        if event.version != next_version(state):
            return (
                state,
                f"version {event.version} of this court's year was taken: next is {next_version(state)}",
            )
        return replace(state, versions=(*state.versions, event)), None
    if isinstance(event, AppealFiled):
        why = why_not_appealable(state, event.time) or _names_latest(state, event)
        if why is None and event.appeal_id in state.appeals:
            why = f"appeal {event.appeal_id} exists"
        if why is not None:
            return state, why
        return replace(state, appeals={**state.appeals, event.appeal_id: Appeal(event)}), None
    why = why_undecidable(state, event.appeal_id)
    if why is not None:
        return state, why
    appeal = state.appeals[event.appeal_id]
    return replace(state, appeals={**state.appeals, event.appeal_id: replace(appeal, decided=event)}), None


def _names_latest(state: CourtYear, event: AppealFiled) -> str | None:
    latest = state.latest
    if latest is not None and event.version != latest.version:
        return f"version {latest.version} was made meanwhile: appeal against it"
    return None


def diff(before: Sections, after: Sections) -> dict[str, dict[str, list]]:
    """Per section of either version: the entries added, removed and changed (by their key, with
    the fields that changed), each list in key order (entry_key)."""
    out = {}
    for section in sorted(before.keys() | after.keys(), key=_section_order):
        old = {entry_key(section, e): e for e in before.get(section, [])}
        new = {entry_key(section, e): e for e in after.get(section, [])}
        changed = [
            {
                "key": k,
                "fields": sorted(f for f in old[k].keys() | new[k].keys() if old[k].get(f) != new[k].get(f)),
                "before": old[k],
                "after": new[k],
            }
            for k in sorted(old.keys() & new.keys())
            if old[k] != new[k]
        ]
        out[section] = {
            "added": [new[k] for k in sorted(new.keys() - old.keys())],
            "removed": [old[k] for k in sorted(old.keys() - new.keys())],
            "changed": changed,
        }
    return out


def entry_key(section: str, entry: dict[str, Any]) -> str:
    """An entry's key within its section: its key fields' values joined by "|"."""
    return "|".join(str(entry.get(f)) for f in SECTION_KEYS.get(section, ("id",)))


def unchanged(before: Sections, after: Sections) -> bool:
    """Whether two versions' contents are the same (nothing added, removed or changed)."""
    return all(not any(d.values()) for d in diff(before, after).values())


def _section_order(section: str) -> tuple[int, str]:
    order = list(SECTION_KEYS)
    return (order.index(section) if section in order else len(order), section)
