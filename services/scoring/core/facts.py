"""What the rules see of an event: a counted fact, or a void of one."""

from dataclasses import dataclass

from services.scoring.core.periods import month_of
from shared.contracts import (
    LiaisonContactMade,
    ParsedEvent,
    RecordVoided,
    TrainingCompleted,
    VolunteerDeployed,
)


@dataclass(frozen=True, slots=True)
class Fact:
    """One record that counts: who did which kind of thing, in which month, for how long."""

    event_id: str
    kind: str
    member_id: str
    month: str
    hours: float = 0.0
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class Void:
    """A correction: the fact with this id stops counting, whenever either arrives."""

    event_id: str
    month: str  # the voided record's month


def fact_of(event: ParsedEvent) -> Fact | Void:
    """Translate a validated event into what the fold applies."""
    p = event.payload
    if isinstance(p, RecordVoided):
        return Void(p.event_id, month_of(p.record_occurred_at))
    eid = event.envelope.id
    if isinstance(p, VolunteerDeployed):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.started_at), hours=p.hours)
    if isinstance(p, LiaisonContactMade):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.occurred_at))
    if isinstance(p, TrainingCompleted):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.completed_at), session_id=p.session_id)
    raise TypeError(f"no fact for {type(p).__name__}")
