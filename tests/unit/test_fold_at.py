"""fold_at: the one way live scoring and a rescore fold a record at an offset into a ledger."""

from datetime import UTC, datetime, timedelta

from services.scoring.core.facts import Fact, Void
from services.scoring.core.ledger import Tracked, fold_at

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def visit(event_id: str, digest: str = "a") -> Fact:
    return Fact(event_id, "visit", "m-1", "2024-06", digest=digest)


def test_a_record_at_or_before_the_ledger_offset_is_a_replay_and_changes_nothing():
    t = Tracked()
    assert fold_at(t, 0, visit("e1"), T0) == "applied"
    assert fold_at(t, 0, visit("e2"), T0 + timedelta(1)) == "replayed"
    assert set(t.ledger.facts) == {"e1"} and t.offset == 0 and t.last_time == T0


def test_a_conflict_moves_the_offset_past_it_and_keeps_the_first_content_and_time():
    t = Tracked()
    fold_at(t, 3, visit("e1", "a"), T0)
    assert fold_at(t, 4, visit("e1", "b"), T0 + timedelta(1)) == "conflict"
    assert t.offset == 4 and t.ledger.facts["e1"].digest == "a" and t.last_time == T0


def test_the_newest_acceptance_time_wins_whatever_the_order_and_voids_count():
    t = Tracked()
    fold_at(t, 0, visit("e1"), T0 + timedelta(2))
    fold_at(t, 1, visit("e2"), T0)
    assert fold_at(t, 2, Void("e1", "2024-06"), T0 + timedelta(3)) == "voided"
    assert fold_at(t, 3, visit("e2"), T0 + timedelta(4)) == "duplicate"
    assert set(t.ledger.facts) == {"e2"} and t.last_time == T0 + timedelta(4)
