"""Closing the year: version numbers, the appeal window's edges (Asia/Shanghai days), the fold's
first-wins decisions and the differences between two frozen versions."""

from datetime import UTC, datetime, timedelta

from services.scoring.core.finalisation import (
    SHANGHAI,
    AppealDecided,
    AppealFiled,
    CourtYear,
    Finalised,
    appeals_until,
    apply,
    diff,
    next_version,
    unchanged,
    why_not_appealable,
)

T0 = datetime(2024, 12, 30, 10, 0, tzinfo=SHANGHAI)


def finalised(version: int, at: datetime = T0, days: int = 7, **sections: list) -> Finalised:
    return Finalised(
        f"e-{version}", "c", "2024", version, at, "admin", "2024.1", appeals_until(at, days), sections
    )


def filed(appeal_id: str, version: int, at: datetime) -> AppealFiled:
    return AppealFiled(f"f-{appeal_id}", appeal_id, "c", "2024", version, at, "m", "member", "m-1", "why")


def decided(appeal_id: str, decision: str = "dismissed") -> AppealDecided:
    return AppealDecided(f"d-{appeal_id}", appeal_id, "c", "2024", T0, "admin", decision, "because")  # type: ignore[arg-type]


def test_versions_are_numbered_from_one_and_the_first_writer_of_a_number_wins():
    state = CourtYear()
    assert next_version(state) == 1
    state, why = apply(state, finalised(1))
    assert why is None and next_version(state) == 2
    same, why = apply(state, finalised(1, T0 + timedelta(minutes=1)))  # another process, same number
    assert same is state and why and "taken" in why
    state, why = apply(state, finalised(2))
    assert why is None and [v.version for v in state.versions] == [1, 2]


def test_the_window_ends_at_the_end_of_its_last_shanghai_day():
    until = appeals_until(T0, 7)  # finalised 30 Dec: the seventh day after is 6 Jan
    assert until == datetime(2025, 1, 7, 0, 0, tzinfo=SHANGHAI)
    state, _ = apply(CourtYear(), finalised(1))
    last_moment = datetime(2025, 1, 6, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert why_not_appealable(state, last_moment) is None
    assert why_not_appealable(state, T0) is None
    closed = why_not_appealable(state, until)
    assert closed and "closed" in closed and "2025-01-07T00:00:00+08:00" in closed


def test_the_day_is_shanghais_not_utcs():
    late_utc = datetime(2024, 12, 30, 17, 0, tzinfo=UTC)  # already 31 Dec 01:00 in Shanghai
    assert appeals_until(late_utc, 0) == datetime(2025, 1, 1, 0, 0, tzinfo=SHANGHAI)
    assert appeals_until(datetime(2024, 12, 30, 15, 59, tzinfo=UTC), 0) == datetime(
        2024, 12, 31, 0, 0, tzinfo=SHANGHAI
    )


def test_no_appeal_before_a_version_or_after_its_window():
    assert "not finalised" in (why_not_appealable(CourtYear(), T0) or "")
    state, _ = apply(CourtYear(), finalised(1, days=0))
    _, why = apply(state, filed("a1", 1, datetime(2024, 12, 31, 0, 0, tzinfo=SHANGHAI)))
    assert why and "closed" in why
    state2, why = apply(state, filed("a1", 1, datetime(2024, 12, 30, 23, 59, tzinfo=SHANGHAI)))
    assert why is None and "a1" in state2.appeals


def test_an_appeal_names_the_latest_version_and_a_new_version_opens_a_new_window():
    state, _ = apply(CourtYear(), finalised(1, days=1))
    later = T0 + timedelta(days=10)
    state, _ = apply(state, finalised(2, at=later, days=1))
    _, why = apply(state, filed("old", 1, later))
    assert why and "version 2" in why
    state, why = apply(state, filed("new", 2, later + timedelta(hours=1)))
    assert why is None


def test_an_appeal_is_decided_once():
    state, _ = apply(CourtYear(), finalised(1))
    _, why = apply(state, decided("nobody"))
    assert why and "no appeal" in why
    state, _ = apply(state, filed("a1", 1, T0))
    state, why = apply(state, decided("a1", "upheld"))
    assert why is None and state.appeals["a1"].decided and state.appeals["a1"].decided.decision == "upheld"
    again, why = apply(state, decided("a1", "dismissed"))
    assert again is state and why and "decided already (upheld)" in why
    _, why = apply(state, filed("a1", 1, T0))
    assert why and "exists" in why


def test_the_diff_lists_added_removed_and_changed_entries_per_section():
    before = {
        "advanced_branches": [{"branch_id": "b1", "court_rank": 1}, {"branch_id": "b2", "court_rank": 2}],
        "grades": [
            {"member_id": "m1", "branch_id": "b1", "grade": "good"},
            {"member_id": "m2", "branch_id": "b1", "grade": "average"},
        ],
    }
    after = {
        "advanced_branches": [{"branch_id": "b1", "court_rank": 1}, {"branch_id": "b3", "court_rank": 2}],
        "grades": [
            {"member_id": "m1", "branch_id": "b1", "grade": "good"},
            {"member_id": "m2", "branch_id": "b1", "grade": "fairly_good"},
            {"member_id": "m2", "branch_id": "b2", "grade": "good"},  # moved in the year: graded in each
        ],
        "excellent": [{"member_id": "m1", "branch_id": "b1"}],
    }
    d = diff(before, after)
    assert list(d) == ["advanced_branches", "grades", "excellent"]
    assert d["advanced_branches"]["added"] == [{"branch_id": "b3", "court_rank": 2}]
    assert d["advanced_branches"]["removed"] == [{"branch_id": "b2", "court_rank": 2}]
    assert d["advanced_branches"]["changed"] == []
    (change,) = d["grades"]["changed"]
    assert change["key"] == "m2|b1" and change["fields"] == ["grade"]
    assert d["grades"]["added"] == [{"member_id": "m2", "branch_id": "b2", "grade": "good"}]
    assert (change["before"]["grade"], change["after"]["grade"]) == ("average", "fairly_good")
    assert d["excellent"] == {"added": [{"member_id": "m1", "branch_id": "b1"}], "removed": [], "changed": []}
    assert not unchanged(before, after)
    assert unchanged(after, {k: list(reversed(v)) for k, v in after.items()})  # order is not content
    assert diff(after, after) == {s: {"added": [], "removed": [], "changed": []} for s in after}
