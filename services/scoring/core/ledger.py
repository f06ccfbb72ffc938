"""The fold: a branch's ledger of facts that count, built by applying events in any order."""

from dataclasses import dataclass, field

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


def apply(ledger: Ledger, item: Fact | Void) -> Ledger:
    """Fold one event into the ledger (updated in place and returned: the caller owns it)."""
    if isinstance(item, Void):
        ledger.voided.add(item.event_id)
        ledger.facts.pop(item.event_id, None)
    elif item.event_id not in ledger.voided:
        ledger.facts.setdefault(item.event_id, item)
    return ledger
