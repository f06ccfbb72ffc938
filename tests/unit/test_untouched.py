"""tools/untouched.py's comparison: a change anywhere in a snapshot is named; nothing else is."""

import pytest

from tools import untouched
from tools.untouched import differences

BEFORE = {
    "branches": [{"branch_id": "cz-zy-min1", "members": 12}, {"branch_id": "cz-zy-min2", "members": 9}],
    "rankings 2024": {
        "total_branches": 2,
        "rows": [{"rank": 1, "branch_id": "a"}, {"rank": 2, "branch_id": "b"}],
    },
    "topics (end offsets)": {"volunteer.deployments.v1": 807},
}


def test_equal_snapshots_have_no_difference() -> None:
    assert differences(BEFORE, {**BEFORE}) == []


def test_a_registered_branch_a_new_topic_and_a_moved_offset_are_named() -> None:
    after = {
        **BEFORE,
        "branches": [*BEFORE["branches"], {"branch_id": "b-1234", "members": 2}],
        "topics (end offsets)": {"volunteer.deployments.v1": 808, "scoring.routed.x": 0},
    }
    assert differences(BEFORE, after) == [
        'branches: + {"branch_id": "b-1234", "members": 2}',
        "topics (end offsets) / scoring.routed.x: new (0)",
        "topics (end offsets) / volunteer.deployments.v1: 807 -> 808",
    ]


def test_a_rank_change_shows_the_rows_that_changed() -> None:
    after = {
        **BEFORE,
        "rankings 2024": {
            "total_branches": 2,
            "rows": [{"rank": 1, "branch_id": "b"}, {"rank": 2, "branch_id": "a"}],
        },
    }
    lines = differences(BEFORE, after)
    assert len(lines) == 4 and all(line.startswith("rankings 2024 / rows: ") for line in lines)
    assert differences(after, {**after, "gone": 1}) == ["gone: new (1)"]


def test_a_snapshot_waits_until_the_copy_stands_still(monkeypatch):
    """A worker catching up moves its group's offsets: the check waits for two equal looks."""
    looks = iter([{"g": 1}, {"g": 2}, {"g": 3}, {"g": 3}, {"g": 4}])

    async def look(copy):  # type: ignore[no-untyped-def]
        return next(looks)

    monkeypatch.setattr(untouched, "kafka_snapshot", look)
    monkeypatch.setattr(untouched.time, "sleep", lambda s: None)
    untouched.settle(None, every_s=0)  # type: ignore[arg-type]
    assert next(looks) == {"g": 4}  # it stopped at the first repeat, {"g": 3}
    moving = iter(range(10**6))

    async def never_still(copy):  # type: ignore[no-untyped-def]
        return {"g": next(moving)}

    monkeypatch.setattr(untouched, "kafka_snapshot", never_still)
    with pytest.raises(TimeoutError):
        untouched.settle(None, every_s=0, limit_s=0)  # type: ignore[arg-type]
