"""What the rules see of an event: a counted fact, or a void of one."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from services.scoring.core.periods import month_of
from shared import fast_contracts as fast
from shared.contracts import (
    LiaisonContactMade,
    MemberAppraised,
    MemberEvaluated,
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
    detail: str = ""  # the yearly examination's records: what they say, as JSON (exam_detail)


# The yearly examination's records (政治素质考察): folded into the training ledger beside the
# completions, scoring no points (core/examination.py reads them).
EVALUATION, APPRAISAL = "evaluation", "appraisal"
EXAM_KINDS = frozenset({EVALUATION, APPRAISAL})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _recorded(event: ParsedEvent | DecodedEvent) -> int:
    """When the intake accepted the record, in microseconds since 1970 (a later ballot supersedes)."""
    return (event.envelope.time - _EPOCH) // timedelta(microseconds=1)


def _exam_fact(event: ParsedEvent | DecodedEvent, month: str) -> Fact:
    """A ballot or an appraisal as a fact: who it is about, and what it says in `detail`."""
    p = event.payload
    said: dict[str, object]
    if isinstance(p, MemberEvaluated | fast.MemberEvaluated):
        kind, said = EVALUATION, {"voter": p.voter_hash, "level": p.level.value}
    elif isinstance(p, MemberAppraised | fast.MemberAppraised):
        kind = APPRAISAL
        said = {"source": p.source, "trial_quality": p.trial_quality, "performance": p.performance.value}
    else:
        raise TypeError(f"no fact for {type(p).__name__}")
    detail = orjson.dumps({**said, "at": _recorded(event)}, option=orjson.OPT_SORT_KEYS).decode()
    return Fact(event.envelope.id, kind, p.member_id, month, digest=content_digest(event), detail=detail)


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
    return _exam_fact(event, month_of(p.occurred_at))


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
    if isinstance(p, fast.TrainingCompleted):
        month = month_of(p.completed_at)
        return Fact(eid, p.kind.value, p.member_id, month, session_id=p.session_id, digest=digest)
    return _exam_fact(event, month_of(p.occurred_at))
