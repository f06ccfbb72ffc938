"""Training completions on their cadences: the monthly lecture hall, 三会一课, the quarterly integrity
day, the January pledge, and occasional reports, rotation training and speech contests."""

import math
import random
from collections.abc import Sequence

from tools.demo.city import Branch, City, Court, Member
from tools.demo.days import office_time, stamp, workdays
from tools.demo.seeds import seeded

QUARTERS = {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9), 4: (10, 11, 12)}
MONTHLY = ("branch_committee", "party_group_meeting")  # a branch's own monthly meetings
QUARTERLY = ("branch_assembly", "party_lecture", "integrity_theme_day")
SHORT = {
    "branch_committee": "bc",
    "party_group_meeting": "pg",
    "branch_assembly": "ba",
    "party_lecture": "pl",
    "integrity_theme_day": "itd",
}
SPEECH_CONTESTS = ((6, "speech-2022-06"), (9, "speech-2022-09"))  # 建党101周年, 喜迎二十大


def completions(city: City, scale: int = 1) -> list[dict]:
    """Every completion of 2022; the members of one session share its session id."""
    rng = seeded("training", scale)
    ns = "" if scale == 1 else f"x{scale}-"
    records = []
    for court in city.courts:
        members = city.by_court[court.court_id]
        records += _lecture_halls(rng, court, members) + _pledges(rng, court, members)
        records += _three_rules(rng, court, members) + _rotation(rng, court, members)
    for branch in city.branches:
        records += _branch_life(rng, branch, city.by_branch[branch.branch_id])
    for month, session in SPEECH_CONTESTS:
        day = rng.choice(workdays(month, 20, 30))
        for court in city.courts:
            for member in rng.sample(city.by_court[court.court_id], rng.randint(1, 2) * scale):
                score = round(rng.uniform(80, 98), 1)
                records.append(_completion(member, "speech_contest", ns + session, stamp(day, 14), score))
    return records


def _completion(member: Member, kind: str, session: str, at: str, score: float | None = None) -> dict:
    record: dict = {
        "member_id": member.member_id,
        "branch_id": member.branch.branch_id,
        "kind": kind,
        "session_id": session,
        "completed_at": at,
    }
    if score is not None:
        record["score"] = score
    return record


def _present(rng: random.Random, members: Sequence[Member], share: float | None = None) -> list[Member]:
    """Who attended: each member with their branch's attendance (at least one: the session was held)."""
    present = [m for m in members if rng.random() < (share or m.branch.attendance)]
    return present or [members[0]]


def _lecture_halls(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """每月上旬 the court's lecture hall; June and December end with a test."""
    records = []
    for month in range(1, 13):
        at = stamp(rng.choice(workdays(month, 1, 10)), 15)
        for m in _present(rng, members):
            score = round(rng.uniform(72, 100)) if month in (6, 12) else None
            records.append(
                _completion(m, "lecture_hall", f"lecture-{court.court_id}-2022-{month:02d}", at, score)
            )
    return records


def _pledges(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """每年年初 every member signs the integrity pledge, within a week of the court's meeting."""
    days = workdays(1, 4, 21)
    first = rng.randrange(len(days) - 5)
    session = f"pledge-{court.court_id}-2022"
    return [
        _completion(m, "integrity_pledge", session, office_time(rng, rng.choice(days[first : first + 5])))
        for m in members
    ]


def _three_rules(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """The half-yearly report under the three regulations against interference in justice."""
    records = []
    for half, month in ((1, 6), (2, 12)):
        session = f"three-rules-{court.court_id}-2022-h{half}"
        for m in _present(rng, members, 0.95):
            records.append(
                _completion(
                    m, "three_rules_report", session, office_time(rng, rng.choice(workdays(month, 15)))
                )
            )
    return records


def _rotation(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """Political rotation training in three cohorts (April, July, October); a few miss their turn."""
    order = rng.sample(members, len(members))
    records = []
    for cohort, month in enumerate((4, 7, 10), start=1):
        at = stamp(rng.choice(workdays(month, 10, 20)), 17)
        session = f"rotation-{court.court_id}-2022-{cohort}"
        for m in order[cohort - 1 :: 3]:
            if rng.random() < 0.9:
                records.append(_completion(m, "rotation_training", session, at, round(rng.uniform(75, 100))))
    return records


def _branch_life(rng: random.Random, branch: Branch, members: Sequence[Member]) -> list[dict]:
    """三会一课 and the integrity day: monthly committee and group meetings, quarterly assembly,
    lecture and theme day; a branch with lapses lets some of them slip (compliance goes red)."""
    windows = [(k, m) for k in MONTHLY for m in range(1, 13)] + [(k, q) for k in QUARTERLY for q in QUARTERS]
    skipped = set(rng.sample(windows, branch.lapses))
    committee = members[: 2 if len(members) < 7 else 3 if len(members) < 15 else 5]
    groups = math.ceil(len(members) / 7)
    records = []
    for kind, window in windows:
        if (kind, window) in skipped:
            continue
        months = QUARTERS[window] if kind in QUARTERLY else (window,)
        at = office_time(rng, rng.choice([d for m in months for d in workdays(m)]))
        period = f"2022-Q{window}" if kind in QUARTERLY else f"2022-{window:02d}"
        if kind == "party_group_meeting":
            for g in range(groups):
                session = f"{SHORT[kind]}-{branch.branch_id}-g{g + 1}-{period}"
                for m in _present(rng, members[g::groups]):
                    records.append(_completion(m, kind, session, at))
            continue
        attendees = _present(rng, committee, 0.95) if kind == "branch_committee" else _present(rng, members)
        for m in attendees:
            records.append(_completion(m, kind, f"{SHORT[kind]}-{branch.branch_id}-{period}", at))
    return records
