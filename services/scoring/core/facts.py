"""What the rules see of an event: a counted fact, or a void of one."""

import hashlib
from dataclasses import dataclass

import orjson

from services.scoring.core.periods import month_of
from shared import fast_contracts as fast
from shared.contracts import (
    LiaisonContactMade,
    ParsedEvent,
    RecordVoided,
    TrainingCompleted,
    VolunteerDeployed,
)
from shared.fast_contracts import DecodedEvent


@dataclass(frozen=True, slots=True)
class Fact:
    """One record that counts: who did which kind of thing, in which month, for how long."""

    event_id: str
    kind: str
    member_id: str
    month: str
    hours: float = 0.0
    session_id: str = ""
    digest: str = ""  # of the record's content: the same id with other content is a conflict


@dataclass(frozen=True, slots=True)
class Void:
    """A correction: the fact with this id stops counting, whenever either arrives."""

    event_id: str
    month: str  # the voided record's month


def content_digest(event: ParsedEvent | DecodedEvent) -> str:
    """A short fingerprint of what a record says (its type and data, not when it was accepted):
    a resent copy has the same one, another record under a reused id does not."""
    spelled = event.data() if isinstance(event, DecodedEvent) else event.envelope.data
    data = orjson.dumps(spelled, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(event.envelope.type.encode() + b"\n" + data).hexdigest()[:16]


def fact_of(event: ParsedEvent) -> Fact | Void:
    """Translate a validated event into what the fold applies."""
    p = event.payload
    if isinstance(p, RecordVoided):
        return Void(p.event_id, month_of(p.record_occurred_at))
    eid, digest = event.envelope.id, content_digest(event)
    if isinstance(p, VolunteerDeployed):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.started_at), hours=p.hours, digest=digest)
    if isinstance(p, LiaisonContactMade):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.occurred_at), digest=digest)
    if isinstance(p, TrainingCompleted):
        month = month_of(p.completed_at)
        return Fact(eid, p.kind.value, p.member_id, month, session_id=p.session_id, digest=digest)
    raise TypeError(f"no fact for {type(p).__name__}")


def fact_of_decoded(event: DecodedEvent) -> Fact | Void:
    """fact_of for the worker's fast decoder: the same fact from the same record."""
    p = event.payload
    if isinstance(p, fast.RecordVoided):
        return Void(p.event_id, month_of(p.record_occurred_at))
    eid, digest = event.envelope.id, content_digest(event)
    if isinstance(p, fast.VolunteerDeployed):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.started_at), hours=p.hours, digest=digest)
    if isinstance(p, fast.LiaisonContactMade):
        return Fact(eid, p.kind.value, p.member_id, month_of(p.occurred_at), digest=digest)
    month = month_of(p.completed_at)
    return Fact(eid, p.kind.value, p.member_id, month, session_id=p.session_id, digest=digest)
