"""The worker's decoder of the wire contract: msgspec, deciding every record as parse_event does.

shared/contracts.py stays the contract (pydantic: the intake bodies, the OpenAPI documents,
parse_event). This module mirrors it field for field for the scoring worker's hot path, where
pydantic decodes about 26k records/s per core: the envelope in one msgspec pass (its `data` kept
as raw JSON), the payload in a second pass over those bytes by its event type. Times are read by
the contract's own reader (msgspec's RFC 3339 parser); ids and texts are checked against the
contract's patterns, anchored at the very end (Python's `$` would let "m-001\\n" through);
the credit code by the contract's check. tests/unit/test_decode_differential.py feeds both
decoders one corpus and demands the same decisions and the same values.
"""

import functools
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta, Raw, Struct

from shared.contracts import (
    EARLIEST_YEAR,
    EVENT_TYPES,
    EVIDENCE_MAX_BYTES,
    ID_PATTERN,
    LATEST_YEAR,
    LINE_PATTERN,
    RFC3339,
    SHA256_PATTERN,
    TEXT_PATTERN,
    VOTER_HASH_PATTERN,
    Channel,
    ContactKind,
    ContractError,
    Decision,
    DeploymentKind,
    EvaluationLevel,
    EventType,
    Performance,
    TrainingKind,
    cut_finer_than_microseconds,
    event_type_named,
    extension_problem,
    year_start,
)
from shared.credit_code import credit_code_problem


def anchored(pattern: str) -> str:
    """A contract pattern for Python's re: `$` also matches before a final newline, `\\Z` does not.
    (The contract keeps `$`: pydantic's Rust engine and OpenAPI's ECMA patterns read it as the end.)"""
    if not pattern.endswith("$"):
        raise ValueError(f"not an anchored pattern: {pattern}")
    return pattern[:-1] + r"\Z"


Id = Annotated[str, Meta(pattern=anchored(ID_PATTERN))]
Text = Annotated[str, Meta(min_length=1, max_length=200, pattern=anchored(LINE_PATTERN))]
Note = Annotated[str, Meta(max_length=2000, pattern=anchored(TEXT_PATTERN))]
Reason = Annotated[str, Meta(min_length=1, max_length=500, pattern=anchored(TEXT_PATTERN))]
Source = Annotated[str, Meta(min_length=1, max_length=200)]
Hours = Annotated[float, Meta(gt=0, le=24)]
Score = Annotated[float, Meta(ge=0, le=100)]
Year = Annotated[int, Meta(ge=EARLIEST_YEAR, le=LATEST_YEAR)]
VoterHash = Annotated[str, Meta(pattern=anchored(VOTER_HASH_PATTERN))]


class _Strict(Struct, frozen=True, forbid_unknown_fields=True):
    """Unknown fields are an error, as in the contract."""


@functools.lru_cache(maxsize=65_536)
def _credit_code_problem(code: str) -> str | None:
    """The contract's check, remembered: a city's enterprises recur (and a key is 18 characters)."""
    return credit_code_problem(code)


class Enterprise(_Strict, frozen=True):
    name: Text
    credit_code: str

    def __post_init__(self) -> None:
        code = self.credit_code
        problem = _credit_code_problem(code) if len(code) == 18 else credit_code_problem(code)
        if problem:
            raise ValueError(f"credit_code: invalid unified social credit code: {problem}")


class VolunteerDeployed(_Strict, frozen=True):
    time_field: ClassVar[str] = "started_at"

    member_id: Id
    branch_id: Id
    kind: DeploymentKind
    started_at: RFC3339
    hours: Hours
    place: Text
    note: Note | None = None

    @property
    def occurred_at(self) -> datetime:
        return self.started_at


class LiaisonContactMade(_Strict, frozen=True):
    time_field: ClassVar[str] = "occurred_at"

    member_id: Id
    branch_id: Id
    kind: ContactKind
    channel: Channel
    enterprise: Enterprise
    occurred_at: RFC3339
    note: Note | None = None


class TrainingCompleted(_Strict, frozen=True):
    time_field: ClassVar[str] = "completed_at"

    member_id: Id
    branch_id: Id
    kind: TrainingKind
    session_id: Id
    completed_at: RFC3339
    score: Score | None = None

    @property
    def occurred_at(self) -> datetime:
        return self.completed_at


class MemberEvaluated(_Strict, frozen=True):
    time_field: ClassVar[str] = "year"

    voter_hash: VoterHash
    member_id: Id
    branch_id: Id
    year: Year
    level: EvaluationLevel

    @property
    def occurred_at(self) -> datetime:
        return year_start(self.year)


class MemberAppraised(_Strict, frozen=True):
    time_field: ClassVar[str] = "year"

    member_id: Id
    branch_id: Id
    year: Year
    source: Id
    trial_quality: Score
    performance: Performance

    @property
    def occurred_at(self) -> datetime:
        return year_start(self.year)


class RecordVoided(_Strict, frozen=True):
    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id
    branch_id: Id
    record_occurred_at: RFC3339
    reason: Reason

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


class RecordReviewed(_Strict, frozen=True):
    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id
    branch_id: Id
    record_occurred_at: RFC3339
    decision: Decision
    reason: Reason

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


class EvidenceAttached(_Strict, frozen=True):
    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id
    branch_id: Id
    record_occurred_at: RFC3339
    sha256: Annotated[str, Meta(pattern=anchored(SHA256_PATTERN))]
    media_type: Literal["image/jpeg", "image/png", "application/pdf"]
    size: Annotated[int, Meta(gt=0, le=EVIDENCE_MAX_BYTES)]

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


Payload = (
    VolunteerDeployed
    | LiaisonContactMade
    | TrainingCompleted
    | MemberEvaluated
    | MemberAppraised
    | RecordVoided
    | RecordReviewed
    | EvidenceAttached
)
PAYLOADS: dict[str, type[Payload]] = {
    "VolunteerDeployed": VolunteerDeployed,
    "LiaisonContactMade": LiaisonContactMade,
    "TrainingCompleted": TrainingCompleted,
    "MemberEvaluated": MemberEvaluated,
    "MemberAppraised": MemberAppraised,
    "RecordVoided": RecordVoided,
    "RecordReviewed": RecordReviewed,
    "EvidenceAttached": EvidenceAttached,
}


class Envelope(_Strict, frozen=True):
    """The CloudEvents envelope; `data` stays raw JSON until the type says what it holds.
    Extensions make the fast pass fail and are checked on the slow one (`_canonical`)."""

    specversion: Literal["1.0"]
    id: Id
    source: Source
    type: str
    time: RFC3339
    subject: Id
    data: Raw
    datacontenttype: Literal["application/json"] = "application/json"
    review: Literal["required"] | None = None  # the record counts only once approved


ENVELOPE_FIELDS = frozenset(Envelope.__struct_fields__)
_ENVELOPE = msgspec.json.Decoder(Envelope)
_DECODERS = {name: msgspec.json.Decoder(model) for name, model in PAYLOADS.items()}
# Each registered type name with its payload's decoder: one lookup per record.
_TYPES = {name: (t, _DECODERS[t.model.__name__]) for name, t in EVENT_TYPES.items()}
_ANY = msgspec.json.Decoder()
_FAILED = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


class DecodedEvent(Struct, frozen=True):
    """An envelope with its validated payload, as parse_event gives it (attributes of one name).
    A Struct, not a frozen dataclass: built in C, a few times faster, once per record."""

    envelope: Envelope
    event_type: EventType
    payload: Payload

    def data(self) -> dict[str, Any]:
        """The payload as the record spells it: what the content digest is taken of."""
        data: dict[str, Any] = _ANY.decode(self.envelope.data)
        return data


REASON_CHARS = 300  # msgspec quotes a wrong value in full (a 1 MB specversion, say)


def reason(err: BaseException) -> str:
    """msgspec's message with the field path first ("enterprise.name: Expected ..."), as the
    contract's reasons read, and short enough for a dead-letter header."""
    if isinstance(err, RecursionError):
        return "body: invalid JSON: nested too deeply"
    if not isinstance(err, msgspec.ValidationError):  # a DecodeError (ValidationError is one too)
        return _short(f"body: invalid JSON: {err}")
    message, found, where = str(err).rpartition(" - at `$")
    if not found:
        return _short(f"body: {err}")
    return f"{_short(where.rstrip('`').lstrip('.') or 'body')}: {_short(message)}"


def _short(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def _canonical(raw: bytes | Raw, part: str) -> bytes:
    """The slow pass, after the fast one failed: the document read whole (a repeated key counts
    by its last value, as pydantic reads JSON), its extension attributes checked and dropped
    (`part` "envelope"), and written again for the fast pass to decide alone."""
    try:
        doc = _ANY.decode(raw)
    except _FAILED as err:
        raise ContractError(f"invalid {part}: {reason(err)}") from None
    if part == "envelope" and isinstance(doc, dict):
        for name in doc.keys() - ENVELOPE_FIELDS:
            if problem := extension_problem(name, doc.pop(name)):
                raise ContractError(f"invalid envelope: body: {problem}")
    try:
        return msgspec.json.encode(doc)
    except (TypeError, OverflowError) as err:  # an integer past 64 bits: no field takes one
        raise ContractError(f"invalid {part}: body: {err}") from None


def decode_event(raw: bytes) -> DecodedEvent:
    """Decode and validate one record's value; raise ContractError with the reason."""
    raw = cut_finer_than_microseconds(raw)  # as the contract's reader does
    try:
        envelope = _ENVELOPE.decode(raw)
    except _FAILED:
        try:
            envelope = _ENVELOPE.decode(_canonical(raw, "envelope"))
        except _FAILED as err:
            raise ContractError(f"invalid envelope: {reason(err)}") from None
    try:
        event_type, decoder = _TYPES[envelope.type]
    except KeyError:
        event_type_named(envelope.type)  # raises ContractError, saying why there is no such type
        raise
    try:
        payload = decoder.decode(envelope.data)
    except _FAILED:
        try:
            payload = decoder.decode(_canonical(envelope.data, "data"))
        except _FAILED as err:
            raise ContractError(f"invalid data: {reason(err)}") from None
    if payload.branch_id != envelope.subject:
        raise ContractError("subject must equal data.branch_id")
    return DecodedEvent(envelope, event_type, payload)
