"""Review (审核) in the fold: a record submitted for review counts only while its latest decision
is an approval; any order and any repetition of records, voids, decisions and evidence give the
same counted facts."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.core.facts import Fact, Void
from services.scoring.core.ledger import Ledger, Tracked, fold, fold_at, restored
from services.scoring.core.review import Attached, Decided, Item, Submitted
from services.scoring.core.scores import score
from services.scoring.rulebooks import DEFAULT_RULEBOOK, parse_rulebook_text, read_rulebook_text

T0 = datetime(2024, 6, 1, tzinfo=UTC)
RULEBOOK = parse_rulebook_text(read_rulebook_text(DEFAULT_RULEBOOK))


def visit(event_id: str, member: str = "m-1") -> Fact:
    return Fact(event_id, "visit", member, "2024-06", digest=f"d-{event_id}")


def decided(event_id: str, approved: bool, minutes: int, decision_id: str = "") -> Decided:
    at = T0 + timedelta(minutes=minutes)
    return Decided(event_id, "2024-06", decision_id or f"r-{event_id}-{minutes}", approved, at)


def points(ledger: Ledger) -> float:
    year = score(ledger.facts.values(), RULEBOOK).get("2024")
    return year.points["service"] if year is not None else 0.0


def test_a_submitted_record_is_pending_until_approved_and_a_decline_holds_it_again():
    ledger = Ledger()
    assert fold(ledger, Submitted(visit("e1"))) == "pending"
    assert not ledger.facts and set(ledger.held) == {"e1"} and points(ledger) == 0
    assert fold(ledger, decided("e1", True, 1)) == "approved"
    assert set(ledger.facts) == {"e1"} and not ledger.held and points(ledger) == 1
    assert fold(ledger, decided("e1", False, 2)) == "declined"
    assert not ledger.facts and points(ledger) == 0
    assert fold(ledger, decided("e1", True, 3)) == "approved"  # declined, then approved: counts
    assert set(ledger.facts) == {"e1"}


def test_an_older_decision_arriving_late_changes_nothing():
    ledger = Ledger()
    fold(ledger, Submitted(visit("e1")))
    fold(ledger, decided("e1", True, 5))
    assert fold(ledger, decided("e1", False, 4)) == "duplicate"
    assert set(ledger.facts) == {"e1"}


def test_decisions_at_the_same_time_are_ordered_by_their_ids():
    a, b = decided("e1", False, 1, "r-a"), decided("e1", True, 1, "r-b")
    for order in ([a, b], [b, a]):
        ledger = Ledger()
        for item in [Submitted(visit("e1")), *order]:
            fold(ledger, item)
        assert set(ledger.facts) == {"e1"}  # r-b is the later


def test_a_decision_before_its_record_is_kept_and_applied_when_the_record_comes():
    ledger = Ledger()
    assert fold(ledger, decided("e1", True, 1)) == "approved"
    assert fold(ledger, Submitted(visit("e1"))) == "applied"
    assert set(ledger.facts) == {"e1"}


def test_a_record_not_submitted_for_review_counts_whatever_is_decided():
    ledger = Ledger()
    fold(ledger, visit("e1"))
    fold(ledger, decided("e1", False, 1))
    assert set(ledger.facts) == {"e1"}


def test_a_void_removes_a_pending_record_and_evidence_changes_nothing():
    ledger = Ledger()
    fold(ledger, Submitted(visit("e1")))
    assert fold(ledger, Attached("e1", "2024-06", "0" * 64)) == "noted"
    assert fold(ledger, Void("e1", "2024-06")) == "voided"
    assert fold(ledger, decided("e1", True, 1)) == "approved"
    assert not ledger.facts and not ledger.held


def test_a_conflict_with_a_held_record_is_refused():
    t = Tracked()
    fold_at(t, 0, Submitted(visit("e1")), T0)
    other = Fact("e1", "visit", "m-1", "2024-06", digest="other")
    assert fold_at(t, 1, Submitted(other), T0) == "conflict"
    assert t.ledger.held["e1"].digest == "d-e1"


def test_a_ledger_restored_from_its_stored_parts_is_the_folded_one():
    ledger = Ledger()
    for item in [Submitted(visit("e1")), Submitted(visit("e2")), visit("e3"), decided("e2", True, 1)]:
        fold(ledger, item)
    again = restored(
        list(ledger.stored_facts()), set(ledger.voided), dict(ledger.decisions), set(ledger.review)
    )
    assert again == ledger


def test_a_copy_is_independent_of_its_original():
    ledger = Ledger()
    fold(ledger, Submitted(visit("e1")))
    copy = ledger.copy()
    fold(copy, decided("e1", True, 1))
    assert not ledger.facts and not ledger.decisions and set(copy.facts) == {"e1"}


# --- any order, any repetition -------------------------------------------------------------------

IDS = [f"e{i}" for i in range(6)]


@st.composite
def histories(draw: st.DrawFn) -> list[Item]:
    """Records (some submitted for review), voids, decisions and evidence over a few ids."""
    items: list[Item] = []
    for eid in IDS:
        member = draw(st.sampled_from(["m-1", "m-2"]))
        if draw(st.booleans()):
            items.append(Submitted(visit(eid, member)) if draw(st.booleans()) else visit(eid, member))
        if draw(st.integers(0, 4)) == 0:
            items.append(Void(eid, "2024-06"))
        for _ in range(draw(st.integers(0, 3))):
            minutes = draw(st.integers(0, 3))  # ties in time too: then the id decides
            items.append(decided(eid, draw(st.booleans()), minutes, f"r-{draw(st.integers(0, 9))}"))
        if draw(st.booleans()):
            items.append(Attached(eid, "2024-06", "a" * 64))
    return items


def counted(items: list[Item]) -> tuple[dict, dict, float]:
    ledger = Ledger()
    for item in items:
        fold(ledger, item)
    return ledger.facts, ledger.held, points(ledger)


@settings(max_examples=300, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(history=histories(), data=st.data())
def test_any_order_and_repetition_gives_the_same_counted_facts(history, data):
    # The same decision id always means the same decision (it is one event): keep the first.
    seen: dict[str, Item] = {}
    history = [seen.setdefault(i.decision_id, i) for i in history if isinstance(i, Decided)] + [
        i for i in history if not isinstance(i, Decided)
    ]
    expected = counted(history)
    repeated = history + data.draw(st.lists(st.sampled_from(history), max_size=8)) if history else []
    shuffled = data.draw(st.permutations(repeated))
    assert counted(shuffled) == expected
