"""The fold: a branch's ledger of facts that count, built by applying events in any order."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from services.scoring.core.facts import Fact, Void
from services.scoring.core.review import Attached, Decided, Item, Submitted, approved


@dataclass
class Ledger:
    """The facts of one branch, stream and year that count, and the ids voided so far.

    Keeping voided ids (not just dropping facts) lets a void arrive before its record, and keying
    facts by event id makes a duplicate a no-op: the same events in any order, any number of
    times, give the same ledger. Likewise review (审核): the ids of records submitted for review
    are kept, such facts wait in `held` until their latest decision is an approval, and the latest
    decision per record is kept whenever it arrives (before its record, too).
    """

    facts: dict[str, Fact] = field(default_factory=dict)
    voided: set[str] = field(default_factory=set)
    held: dict[str, Fact] = field(default_factory=dict)  # pending or declined: not counted
    decisions: dict[str, Decided] = field(default_factory=dict)  # the latest per record id
    review: set[str] = field(default_factory=set)  # ids of the records submitted for review

    def copy(self) -> "Ledger":
        """A copy to fold into (facts are immutable, so the containers are all that is copied;
        the review ones are empty for a ledger nobody reviews)."""
        return Ledger(
            dict(self.facts), set(self.voided), dict(self.held), dict(self.decisions), set(self.review)
        )

    def counts(self, event_id: str) -> bool:
        """Whether the fact under `event_id` counts: not submitted for review, or approved."""
        return event_id not in self.review or approved(self.decisions.get(event_id))

    def stored_facts(self) -> Iterator[Fact]:
        """Every fact the ledger keeps, counted or held: what its documents store."""
        return chain(self.facts.values(), self.held.values())

    def find(self, event_id: str) -> Fact | None:
        """The fact under `event_id`, counted or held."""
        return self.facts.get(event_id) or self.held.get(event_id)


def restored(stored: list[Fact], voided: set[str], decisions: dict[str, Decided], review: set[str]) -> Ledger:
    """A ledger from what its documents hold: each fact counted or held by its latest decision."""
    ledger = Ledger(voided=voided, decisions=decisions, review=review)
    for f in stored:
        (ledger.facts if ledger.counts(f.event_id) else ledger.held)[f.event_id] = f
    return ledger


def conflicts(ledger: Ledger, item: Item) -> bool:
    """Whether `item` reuses the id of a fact the ledger holds, with other content: the first one
    keeps counting and the later one is refused (a resent copy is a harmless duplicate)."""
    if isinstance(item, Submitted):
        item = item.fact
    if not isinstance(item, Fact):
        return False
    held = ledger.find(item.event_id)
    return held is not None and bool(held.digest) and held.digest != item.digest


def _decide(ledger: Ledger, item: Decided) -> bool:
    """Keep `item` if it is the record's latest decision, and count or hold the record by it."""
    if not item.supersedes(ledger.decisions.get(item.event_id)):
        return False
    ledger.decisions[item.event_id] = item
    eid = item.event_id
    if item.approved and eid in ledger.held:
        ledger.facts[eid] = ledger.held.pop(eid)
    elif not item.approved and eid in ledger.facts and eid in ledger.review:
        ledger.held[eid] = ledger.facts.pop(eid)
    return True


def apply(ledger: Ledger, item: Item) -> Ledger:
    """Fold one event into the ledger (updated in place and returned: the caller owns it)."""
    if isinstance(item, Void):
        ledger.voided.add(item.event_id)
        ledger.facts.pop(item.event_id, None)
        ledger.held.pop(item.event_id, None)
    elif isinstance(item, Decided):
        _decide(ledger, item)
    elif isinstance(item, Fact | Submitted):
        eid = item.event_id
        if ledger.find(eid) is None:  # the first copy decides (an intake sends one kind per id)
            if isinstance(item, Submitted):
                ledger.review.add(eid)
            if eid not in ledger.voided:
                fact = item.fact if isinstance(item, Submitted) else item
                (ledger.facts if ledger.counts(eid) else ledger.held)[eid] = fact
    return ledger  # evidence (Attached) changes nothing the fold counts


def fold(ledger: Ledger, item: Item) -> str:
    """Apply one event as live scoring and a rescore both do; return what it did: applied,
    pending (held for review), voided, approved, declined, noted (evidence), duplicate (a resent
    copy or an older decision, no change) or conflict (refused, no change)."""
    if conflicts(ledger, item):
        return "conflict"
    if isinstance(item, Void):
        apply(ledger, item)
        return "voided"
    if isinstance(item, Decided):
        return ("approved" if item.approved else "declined") if _decide(ledger, item) else "duplicate"
    if isinstance(item, Attached):
        return "noted"
    # A copy of a held fact, or a record voided before (or after) it arrived: no change.
    unchanged = ledger.find(item.event_id) is not None or item.event_id in ledger.voided
    apply(ledger, item)
    if unchanged:
        return "duplicate"
    return "applied" if item.event_id in ledger.facts else "pending"


@dataclass
class Tracked:
    """A ledger with the offset of the last record folded into it (records come from one
    partition, in order) and the acceptance time of the newest record it counts."""

    ledger: Ledger = field(default_factory=Ledger)
    offset: int = -1
    last_time: datetime | None = None


def fold_at(tracked: Tracked, offset: int, item: Item, at: datetime) -> str:
    """Fold the record at `offset`, accepted at `at`, as live scoring and a rescore both do:
    replayed (the ledger holds it already: a redelivery after a crash or a rebalance), or what
    fold() says. A conflict moves the offset past the record and changes nothing else."""
    if offset <= tracked.offset:
        return "replayed"
    tracked.offset = offset
    outcome = fold(tracked.ledger, item)
    if outcome != "conflict" and (tracked.last_time is None or at > tracked.last_time):
        tracked.last_time = at
    return outcome
