"""What the rules see of an event: a counted fact, or a void of one."""

import hashlib
from dataclasses import dataclass

import orjson

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
    digest: str = ""  # of the record's content: the same id with other content is a conflict


@dataclass(frozen=True, slots=True)
class Void:
    """A correction: the fact with this id stops counting, whenever either arrives."""

    event_id: str
    month: str  # the voided record's month


def content_digest(event: ParsedEvent) -> str:
    """A short fingerprint of what a record says (its type and data, not when it was accepted):
    a resent copy has the same one, another record under a reused id does not."""
    data = orjson.dumps(event.envelope.data, option=orjson.OPT_SORT_KEYS)
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
