"""The registry's history: effective-dated branch fields, rosters per period, a member's branch on a day."""

from datetime import date

import pytest

from services.scoring.core.roster import (
    BranchVersion,
    InvalidVersion,
    MemberVersion,
    Registry,
    branch_at,
    check_member,
    member_at,
    members_in,
    period_days,
    roster,
    roster_of,
)

D = date


def member(
    mid: str,
    branch: str,
    joined: date,
    effective: date | None = None,
    left: date | None = None,
    role: str = "member",
) -> MemberVersion:
    return MemberVersion(mid, branch, role, joined, left, effective or joined)


def registry(*versions: BranchVersion | MemberVersion) -> Registry:
    r = Registry()
    for v in versions:
        r.apply(v)
    return r


def test_period_days_cover_months_quarters_years_and_the_leap_day():
    assert period_days("2024-02") == (D(2024, 2, 1), D(2024, 2, 29))
    assert period_days("2023-02") == (D(2023, 2, 1), D(2023, 2, 28))
    assert period_days("2024-Q4") == (D(2024, 10, 1), D(2024, 12, 31))
    assert period_days("2024-12") == (D(2024, 12, 1), D(2024, 12, 31))
    assert period_days("2024") == (D(2024, 1, 1), D(2024, 12, 31))
    assert period_days("9999") == (D(9999, 1, 1), D(9999, 12, 31))  # every period the API takes
    assert period_days("0000-Q1") == (D(1, 1, 1), D(1, 3, 31))


def test_a_branch_change_applies_from_its_date_on_never_backwards():
    r = registry(
        BranchVersion("b1", "一支部", "c1", None, 10),
        BranchVersion("b1", "一支部", "c1", None, 12, D(2024, 6, 1)),
    )
    assert branch_at(r, "b1", D(2024, 5, 31)).members == 10  # type: ignore[union-attr]
    assert branch_at(r, "b1", D(2024, 6, 1)).members == 12  # type: ignore[union-attr]
    assert branch_at(r, "b1", D(1990, 1, 1)).members == 10  # type: ignore[union-attr]
    assert branch_at(r, "nobody", D(2024, 1, 1)) is None


def test_a_first_dated_registration_has_nothing_before_it_and_an_undated_put_replaces_history():
    r = registry(BranchVersion("b1", "一支部", "c1", None, 7, D(2024, 3, 1)))
    assert branch_at(r, "b1", D(2024, 1, 1)).members == 7  # type: ignore[union-attr]
    r.apply(BranchVersion("b1", "一支部", "c1", None, 9, D(2024, 9, 1)))
    r.apply(BranchVersion("b1", "一支部", "c2", None, 5))
    assert [v.members for v in r.branches["b1"]] == [5]
    assert branch_at(r, "b1", D(2024, 10, 1)).court == "c2"  # type: ignore[union-attr]


def test_the_same_effective_date_replaces_the_earlier_version():
    r = registry(member("m1", "b1", D(2020, 1, 1)), member("m1", "b2", D(2020, 1, 1)))
    assert [v.branch_id for v in r.members["m1"]] == ["b2"]


def test_a_roster_counts_members_joined_by_the_end_and_not_left_before_the_start():
    r = registry(
        member("m1", "b1", D(2024, 3, 31)),  # joined on the quarter's last day: counts in Q1
        member("m2", "b1", D(2024, 4, 1)),  # joined the day after: not in Q1
        member("m3", "b1", D(2020, 1, 1), left=D(2024, 1, 1)),  # left on its first day: counts
        member("m4", "b1", D(2020, 1, 1), left=D(2023, 12, 31)),  # left the day before: not
    )
    assert roster(r, "b1", *period_days("2024-Q1")) == ["m1", "m3"]
    assert roster(r, "b1", *period_days("2024-Q2")) == ["m1", "m2"]
    assert roster(r, "b1", *period_days("2024")) == ["m1", "m2", "m3"]


def test_a_transfer_mid_month_counts_in_both_branches_that_month_and_in_one_after():
    r = registry(
        member("m1", "b1", D(2022, 5, 1)), member("m1", "b2", D(2022, 5, 1), effective=D(2024, 2, 15))
    )
    assert roster(r, "b1", *period_days("2024-02")) == ["m1"]
    assert roster(r, "b2", *period_days("2024-02")) == ["m1"]
    assert roster(r, "b1", *period_days("2024-03")) == []
    assert roster(r, "b2", *period_days("2024-01")) == []
    assert member_at(r, "m1", D(2024, 2, 14)).branch_id == "b1"  # type: ignore[union-attr]
    assert member_at(r, "m1", D(2024, 2, 15)).branch_id == "b2"  # type: ignore[union-attr]
    assert member_at(r, "m1", D(2022, 4, 30)) is None  # not yet joined


def test_a_leap_day_transfer_and_leaving():
    r = registry(
        member("m1", "b1", D(2023, 1, 1)),
        member("m1", "b2", D(2023, 1, 1), effective=D(2024, 2, 29)),
        member("m1", "b2", D(2023, 1, 1), effective=D(2024, 3, 1), left=D(2024, 2, 29)),
    )
    assert member_at(r, "m1", D(2024, 2, 28)).branch_id == "b1"  # type: ignore[union-attr]
    assert member_at(r, "m1", D(2024, 2, 29)).branch_id == "b2"  # type: ignore[union-attr]
    assert member_at(r, "m1", D(2024, 3, 1)) is None
    assert roster(r, "b2", *period_days("2024-03")) == []
    assert roster(r, "b2", *period_days("2024-02")) == ["m1"]


def test_member_count_falls_back_to_the_registered_number_without_a_roster():
    r = registry(member("m1", "b1", D(2024, 6, 1)), member("m2", "b1", D(2024, 6, 1)))
    assert members_in(r, "b1", *period_days("2024-06"), registered=12) == 2
    assert members_in(r, "b1", *period_days("2024-05"), registered=12) == 12
    assert members_in(r, "b9", *period_days("2024"), registered=4) == 4


def test_left_before_joined_and_unknown_roles_are_refused():
    with pytest.raises(InvalidVersion, match="left"):
        check_member(member("m1", "b1", D(2024, 3, 2), left=D(2024, 3, 1)))
    with pytest.raises(InvalidVersion, match="role"):
        check_member(member("m1", "b1", D(2024, 3, 2), role="boss"))
    check_member(member("m1", "b1", D(2024, 3, 2), left=D(2024, 3, 2)))  # one day is a membership


def test_roster_of_a_year_lists_each_member_once_where_they_ended_it():
    r = registry(
        BranchVersion("b1", "一支部", "c1", None, 3),
        BranchVersion("b2", "二支部", "c2", None, 3),
        member("m1", "b1", D(2020, 1, 1), role="secretary"),
        member("m1", "b2", D(2020, 1, 1), effective=D(2024, 7, 1), role="committee"),
        member("m2", "b1", D(2020, 1, 1), left=D(2024, 3, 1)),
        member("m3", "b1", D(2025, 1, 1)),
    )
    entries = roster_of(r, 2024)
    assert [(e.member_id, e.branch_id, e.court, e.role) for e in entries] == [
        ("m1", "b2", "c2", "committee"),
        ("m2", "b1", "c1", "member"),
    ]
    assert [e.member_id for e in roster_of(r, 2024, court="c1")] == ["m2"]
    assert [e.member_id for e in roster_of(r, 2024, branch="b2")] == ["m1"]
    assert [e.member_id for e in roster_of(r, 2023, branch="b1")] == ["m1", "m2"]
    assert roster_of(r, 2024, branch="b1")[0].left == D(2024, 3, 1)


def test_roster_of_takes_the_court_of_a_branch_registered_without_history_from_the_fallback():
    r = registry(member("m1", "legacy", D(2020, 1, 1)))
    assert [e.court for e in roster_of(r, 2024, courts={"legacy": "c9"})] == ["c9"]
    assert [e.member_id for e in roster_of(r, 2024, court="c9", courts={"legacy": "c9"})] == ["m1"]
    assert roster_of(r, 2024, court="c9") == []


def test_roster_of_the_years_at_the_calendars_edges():
    """Year 0000 (a period the API takes) is read as 0001, as period_days reads it; 9999 ends on 12-31."""
    r = registry(BranchVersion("b1", "一支部", "c1", None, 3), member("m1", "b1", D(2020, 1, 1)))
    assert roster_of(r, 0) == [] and roster_of(r, 0, branch="b1") == []
    assert [e.member_id for e in roster_of(r, 9999)] == ["m1"]
