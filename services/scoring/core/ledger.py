"""The fold: a branch's ledger of facts that count, built by applying events in any order."""

from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.core.facts import Fact, Void


@dataclass
class Ledger:
    """The facts of one branch, stream and year that count, and the ids voided so far.

    Keeping voided ids (not just dropping facts) lets a void arrive before its record, and keying
    facts by event id makes a duplicate a no-op: the same events in any order, any number of
    times, give the same ledger.
    """

    facts: dict[str, Fact] = field(default_factory=dict)
    voided: set[str] = field(default_factory=set)

    def copy(self) -> "Ledger":
        """A copy to fold into (facts are immutable, so the containers are all that is copied)."""
        return Ledger(dict(self.facts), set(self.voided))


def conflicts(ledger: Ledger, item: Fact | Void) -> bool:
    """Whether `item` reuses the id of a fact the ledger counts, with other content: the first one
    keeps counting and the later one is refused (a resent copy is a harmless duplicate)."""
    if isinstance(item, Void):
        return False
    held = ledger.facts.get(item.event_id)
    return held is not None and bool(held.digest) and held.digest != item.digest


def apply(ledger: Ledger, item: Fact | Void) -> Ledger:
    """Fold one event into the ledger (updated in place and returned: the caller owns it)."""
    if isinstance(item, Void):
        ledger.voided.add(item.event_id)
        ledger.facts.pop(item.event_id, None)
    elif item.event_id not in ledger.voided:
        ledger.facts.setdefault(item.event_id, item)
    return ledger


def fold(ledger: Ledger, item: Fact | Void) -> str:
    """Apply one event as live scoring and a rescore both do; return what it did: applied,
    voided, duplicate (a resent copy, no change) or conflict (refused, no change)."""
    if conflicts(ledger, item):
        return "conflict"
    if isinstance(item, Void):
        apply(ledger, item)
        return "voided"
    # A copy of a counted fact, or a record voided before (or after) it arrived: no change.
    unchanged = item.event_id in ledger.facts or item.event_id in ledger.voided
    apply(ledger, item)
    return "duplicate" if unchanged else "applied"


@dataclass
class Tracked:
    """A ledger with the offset of the last record folded into it (records come from one
    partition, in order) and the acceptance time of the newest record it counts."""

    ledger: Ledger = field(default_factory=Ledger)
    offset: int = -1
    last_time: datetime | None = None


def fold_at(tracked: Tracked, offset: int, item: Fact | Void, at: datetime) -> str:
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
