"""Reminders' pure rules: due and overdue windows at calendar edges, ids, digests."""

from datetime import UTC, date, datetime

import pytest

from services.scoring.core.rulebook import ReminderRule
from services.scoring.reminders.rules import (
    DIGEST,
    DUE,
    OVERDUE,
    WindowState,
    court_day,
    iso_week,
    last_day,
    owed,
    reminder_id,
    status_on,
    years_to_judge,
)

RULE = ReminderRule(due_days=7, overdue_days=31)


def state(window: str, done: int = 0, needed: int = 1, kind: str = "lecture_hall") -> WindowState:
    return WindowState("b-1", "测试支部", "c-1", kind, window, needed, done)


@pytest.mark.parametrize(
    ("window", "last"),
    [
        ("2024-02", date(2024, 2, 29)),  # a leap year's February
        ("2023-02", date(2023, 2, 28)),
        ("2100-02", date(2100, 2, 28)),  # divisible by 100, not by 400: no leap day
        ("2000-02", date(2000, 2, 29)),
        ("2024-Q1", date(2024, 3, 31)),
        ("2024-Q2", date(2024, 6, 30)),
        ("2024-Q4", date(2024, 12, 31)),
        ("2024", date(2024, 12, 31)),
        ("2024-04", date(2024, 4, 30)),
    ],
)
def test_a_window_closes_on_its_last_calendar_day(window, last):
    assert last_day(window) == last


@pytest.mark.parametrize(
    ("today", "window", "expected"),
    [
        (date(2024, 2, 21), "2024-02", None),  # 8 days left: not yet
        (date(2024, 2, 22), "2024-02", DUE),  # 7 days left in a leap February
        (date(2024, 2, 29), "2024-02", DUE),  # its last day (Asia/Shanghai): still due, not overdue
        (date(2024, 3, 1), "2024-02", OVERDUE),  # the next day: closed undone
        (date(2023, 2, 21), "2023-02", DUE),  # 7 days before a plain February's 28th
        (date(2024, 3, 24), "2024-Q1", DUE),  # a quarter's end
        (date(2024, 3, 23), "2024-Q1", None),
        (date(2024, 4, 1), "2024-Q1", OVERDUE),
        (date(2024, 12, 24), "2024", DUE),  # the year's end
        (date(2025, 1, 1), "2024", OVERDUE),  # across the new year
        (date(2025, 1, 1), "2024-12", OVERDUE),
        (date(2025, 1, 31), "2024-12", OVERDUE),  # 31 days after: still told
        (date(2025, 2, 1), "2024-12", None),  # 32 days after: history, not a reminder
        (date(2024, 6, 1), "2024-03", None),
    ],
)
def test_due_within_n_days_of_the_end_overdue_once_closed(today, window, expected):
    assert status_on(state(window), today, RULE) == expected


def test_a_done_window_is_owed_nothing_and_the_pledge_needs_every_member():
    assert status_on(state("2024-03", done=1), date(2024, 3, 28), RULE) is None
    pledge = state("2024", done=4, needed=5, kind="integrity_pledge")
    assert status_on(pledge, date(2024, 12, 30), RULE) == DUE
    assert status_on(state("2024", done=5, needed=5, kind="integrity_pledge"), date(2025, 1, 2), RULE) is None


def test_due_days_come_from_the_rule():
    assert status_on(state("2024-03"), date(2024, 3, 18), ReminderRule(due_days=14)) == DUE
    assert status_on(state("2024-03"), date(2024, 3, 18), RULE) is None


def test_years_judged_reach_back_over_the_new_year_only_in_its_first_weeks():
    assert years_to_judge(date(2025, 1, 15), RULE) == ["2024", "2025"]
    assert years_to_judge(date(2024, 3, 28), RULE) == ["2024"]


def test_ids_are_one_per_type_branch_kind_and_window():
    assert reminder_id(DUE, "b-1", "2024-03", "lecture_hall") == "reminder.due:b-1:lecture_hall:2024-03"
    assert reminder_id(DIGEST, "b-1", "2024-W13") == "reminder.digest:b-1:2024-W13"
    states = [state("2024-03"), state("2024-02"), state("2024-Q1", kind="party_lecture")]
    first = owed(states, date(2024, 3, 28), RULE, {})
    again = owed(states, date(2024, 3, 29), RULE, {})  # another day of the same week: the same ids
    assert [r.id for r in first] == [r.id for r in again]
    assert [r.id for r in first] == [
        "reminder.due:b-1:lecture_hall:2024-03",
        "reminder.overdue:b-1:lecture_hall:2024-02",
        "reminder.due:b-1:party_lecture:2024-Q1",
        "reminder.digest:b-1:2024-W13",
    ]


def test_iso_weeks_at_year_edges():
    assert iso_week(date(2024, 12, 30)) == "2025-W01"  # a Monday that belongs to next year's week 1
    assert iso_week(date(2021, 1, 3)) == "2020-W53"
    assert iso_week(date(2024, 3, 28)) == "2024-W13"


def test_the_digest_lists_what_is_due_and_what_this_year_left_undone():
    states = [state("2024-01"), state("2024-02", done=1), state("2024-03"), state("2023-12")]
    digest = owed(states, date(2024, 3, 28), RULE, {"lecture_hall": "大讲堂 lecture hall"})[-1]
    assert digest.type == DIGEST and digest.data["week"] == "2024-W13"
    assert [i["window"] for i in digest.data["due"]] == ["2024-03"]
    assert [i["window"] for i in digest.data["overdue"]] == ["2024-01"]  # not last year's, long closed
    assert digest.data["due"][0]["label"] == "大讲堂 lecture hall"
    assert digest.data["due"][0]["days_left"] == 3


def test_the_day_turns_at_midnight_in_asia_shanghai_not_utc():
    assert court_day(datetime(2024, 3, 31, 15, 59, tzinfo=UTC)) == date(2024, 3, 31)  # 23:59 in Shanghai
    assert court_day(datetime(2024, 3, 31, 16, 0, tzinfo=UTC)) == date(2024, 4, 1)  # 00:00: Q1 closed
    assert (
        status_on(
            state("2024-Q1", kind="party_lecture"), court_day(datetime(2024, 3, 31, 16, 0, tzinfo=UTC)), RULE
        )
        == OVERDUE
    )
    assert court_day(datetime(2024, 12, 31, 16, 0, tzinfo=UTC)) == date(2025, 1, 1)
