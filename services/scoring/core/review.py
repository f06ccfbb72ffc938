"""Review (审核) as the fold sees it: a reviewer's decision on a record, evidence attached to one,
and a record's review flag, translated from validated events."""

from dataclasses import dataclass
from datetime import datetime

from services.scoring.core.facts import Fact, Void, fact_of, fact_of_decoded
from services.scoring.core.periods import month_of
from shared import fast_contracts as fast
from shared.contracts import Decision, EvidenceAttached, ParsedEvent, RecordReviewed
from shared.fast_contracts import DecodedEvent


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision on the record `event_id`: the latest one (by its own time, ties by its id) says
    whether a record that requires review counts."""

    event_id: str  # the record decided on
    month: str  # the record's month: the decision lands in the record's ledger
    decision_id: str
    approved: bool
    at: datetime  # when it was decided (the decision's acceptance time)

    def supersedes(self, other: "Decided | None") -> bool:
        """Whether this decision is later than `other`: any order of folding picks the same one."""
        return other is None or (self.at, self.decision_id) > (other.at, other.decision_id)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A record submitted for review (a member's or clerk's, as its event says): it counts only
    while its latest decision is an approval."""

    fact: Fact

    @property
    def event_id(self) -> str:
        return self.fact.event_id

    @property
    def month(self) -> str:
        return self.fact.month


@dataclass(frozen=True, slots=True)
class Attached:
    """Evidence attached to the record `event_id`: it changes no score (the view lists it)."""

    event_id: str
    month: str
    sha256: str


Item = Fact | Void | Submitted | Decided | Attached


def approved(decision: Decided | None) -> bool:
    """Whether a record that requires review counts under its latest decision."""
    return decision is not None and decision.approved


def item_of(event: ParsedEvent) -> Item:
    """What the fold applies of a validated event (fact_of, with review)."""
    p, envelope = event.payload, event.envelope
    if isinstance(p, RecordReviewed):
        approved = p.decision is Decision.APPROVED
        return Decided(p.event_id, month_of(p.record_occurred_at), envelope.id, approved, envelope.time)
    if isinstance(p, EvidenceAttached):
        return Attached(p.event_id, month_of(p.record_occurred_at), p.sha256)
    item = fact_of(event)
    return Submitted(item) if envelope.review and isinstance(item, Fact) else item


def item_of_decoded(event: DecodedEvent) -> Item:
    """item_of for the worker's fast decoder: the same item from the same record."""
    p, envelope = event.payload, event.envelope
    if isinstance(p, fast.RecordReviewed):
        approved = p.decision is Decision.APPROVED
        return Decided(p.event_id, month_of(p.record_occurred_at), envelope.id, approved, envelope.time)
    if isinstance(p, fast.EvidenceAttached):
        return Attached(p.event_id, month_of(p.record_occurred_at), p.sha256)
    item = fact_of_decoded(event)
    return Submitted(item) if envelope.review and isinstance(item, Fact) else item
