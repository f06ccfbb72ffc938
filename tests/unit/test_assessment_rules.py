"""Compliance with required cadences and the advanced-branch selection, as pure rules."""

import tomllib

from services.scoring.core.advanced import Candidate, select
from services.scoring.core.compliance import Tally, check, overall, windows
from services.scoring.core.rulebook import AdvancedRule, parse_rulebook
from services.scoring.rulebooks import DEFAULT_RULEBOOK

RULES = parse_rulebook(tomllib.loads(DEFAULT_RULEBOOK.read_text()))


def test_windows_of_a_period_by_cadence():
    assert windows("2022-Q3", "month") == ["2022-07", "2022-08", "2022-09"]
    assert windows("2022-08", "quarter") == ["2022-Q3"]
    assert windows("2022", "quarter") == ["2022-Q1", "2022-Q2", "2022-Q3", "2022-Q4"]


def test_done_due_overdue_by_window_and_today():
    counts = {"2022-07": {"lecture_hall": 1}}
    items = check(counts, "2022-Q3", {"lecture_hall": "month"}, members=5, today_month="2022-08")
    assert [(i.window, i.status, i.colour) for i in items] == [
        ("2022-07", "done", "green"),
        ("2022-08", "due", "yellow"),  # the month is still open
        ("2022-09", "due", "yellow"),
    ]
    items = check(counts, "2022-Q3", {"lecture_hall": "month"}, members=5, today_month="2022-10")
    assert [i.status for i in items] == ["done", "overdue", "overdue"]
    assert overall(items) == Tally("red", 1 / 3, 1 / 3)


def test_a_window_still_open_counts_neither_for_nor_against_the_kept_share():
    counts = {"2022-07": {"lecture_hall": 1}}
    items = check(counts, "2022-Q3", {"lecture_hall": "month"}, members=5, today_month="2022-08")
    # The old copies disagreed here: /v1/compliance showed 1/3 and the advanced rule used 1/1.
    assert overall(items) == Tally("yellow", 1 / 3, 1.0)
    assert overall([]) == Tally("green", 1.0, 1.0)


def test_pledge_is_needed_from_every_member_for_the_whole_year():
    counts = {"2022-01": {"integrity_pledge": 4}, "2022-02": {"integrity_pledge": 1}}
    (item,) = check(counts, "2022-08", {"integrity_pledge": "year"}, members=5, today_month="2023-01")
    assert (item.window, item.needed, item.done, item.status) == ("2022", 5, 5, "done")
    (item,) = check(counts, "2022-08", {"integrity_pledge": "year"}, members=6, today_month="2023-01")
    assert item.status == "overdue"


def test_rulebook_cadences_follow_the_article():
    assert RULES.cadence["lecture_hall"] == "month"
    assert RULES.cadence["integrity_theme_day"] == "quarter"
    assert RULES.cadence["integrity_pledge"] == "year"


RULE = AdvancedRule(min_compliance=0.8, court_share=0.2, city_share=0.1)


def test_top_share_per_court_among_compliant_branches():
    cands = [Candidate(f"a{i}", "court-a", total=float(i), compliance=1.0) for i in range(1, 11)]
    cands[9] = Candidate("a10", "court-a", total=10.0, compliance=0.5)  # best score, poor compliance
    courts, city = select(cands, RULE)
    assert [r.branch_id for r in courts["court-a"]] == ["a9", "a8"]  # 20% of 10 branches
    assert [r.branch_id for r in city] == ["a9"]  # 10% of 10


def test_ties_at_the_quota_boundary_are_all_named_and_zero_totals_never():
    cands = [
        Candidate("x", "c", 5.0, 1.0),
        Candidate("y", "c", 3.0, 1.0),
        Candidate("z", "c", 3.0, 1.0),
        Candidate("w", "c", 0.0, 1.0),
        Candidate("v", "c", 0.0, 1.0),
        Candidate("u", "c", 0.0, 1.0),
    ]
    courts, _ = select(cands, AdvancedRule(0.8, 0.3, 0.1))  # quota ceil(6 * 0.3) = 2
    assert [(r.rank, r.branch_id) for r in courts["c"]] == [(1, "x"), (2, "y"), (2, "z")]
    courts, _ = select([Candidate("w", "c", 0.0, 1.0)], RULE)
    assert courts["c"] == []
