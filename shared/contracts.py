"""The wire contract: CloudEvents envelopes, record payloads, the topic registry and parse_event.

Every producer (the intake services, or any other service writing straight onto the topics) and
the scoring worker go through this one module, so the contract cannot drift between them.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.credit_code import credit_code_problem

TYPE_PREFIX = "cn.court.partybuilding."
SCHEMA_VERSION = "v1"
CONTENT_TYPE = "application/cloudevents+json"

# Ids travel in URLs, Kafka keys and MongoDB documents: a narrow alphabet keeps every one of
# those safe (no '$', '.', '/', spaces or control characters).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:\-]{0,127}$"
Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["branch-zy-civil-1"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str | None, Field(default=None, max_length=2000)]


class Stream(StrEnum):
    """The three event streams; each has one topic."""

    VOLUNTEER = "volunteer"
    LIAISON = "liaison"
    TRAINING = "training"


@dataclass(frozen=True)
class Topic:
    """A topic with its key and value formats."""

    name: str
    key: str = "branch id, UTF-8: every event of one branch lands in one partition, in order"
    value: str = "CloudEvents 1.0, structured JSON mode (application/cloudevents+json)"


TOPICS: dict[Stream, Topic] = {
    Stream.VOLUNTEER: Topic("volunteer.deployments.v1"),
    Stream.LIAISON: Topic("liaison.contacts.v1"),
    Stream.TRAINING: Topic("training.completions.v1"),
}
DEAD_LETTER = Topic(
    "scoring.deadletter.v1",
    key="the original record's key",
    value="the original record's bytes; headers dlq.reason, dlq.topic, dlq.partition, dlq.offset",
)


class Contract(BaseModel):
    """Strict base: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentKind(StrEnum):
    """Kinds of volunteer deployment (司法为民)."""

    TIANPING_VOLUNTEER_TEAM = "tianping_volunteer_team"  # 天平志愿服务队
    COMMUNITY_DUAL_REPORT = "community_dual_report"  # 社区双报到
    EPIDEMIC_VOLUNTEER = "epidemic_volunteer"  # 疫情防控志愿者
    COMMUNITY_PARTY_INSTRUCTOR = "community_party_instructor"  # 社区临时党组织指导员
    JUDGE_WORKSTATION = "judge_workstation"  # 法官工作站
    LEGAL_PUBLICITY = "legal_publicity"  # 法治宣传


class ContactKind(StrEnum):
    """Kinds of enterprise-liaison contact (党建+法官联系人)."""

    VISIT = "visit"  # 走访
    JUDICIAL_SUGGESTION = "judicial_suggestion"  # 司法建议
    PRE_LITIGATION_RESOLUTION = "pre_litigation_resolution"  # 诉前化解
    SYMPOSIUM = "symposium"  # 企业家座谈会


class Channel(StrEnum):
    """How a liaison contact was made."""

    ONLINE = "online"  # 线上
    OFFLINE = "offline"  # 线下


class TrainingKind(StrEnum):
    """Kinds of political-training completion (组织生活与队伍建设)."""

    LECTURE_HALL = "lecture_hall"  # 政治理论及业务学习大讲堂
    BRANCH_ASSEMBLY = "branch_assembly"  # 支部党员大会
    BRANCH_COMMITTEE = "branch_committee"  # 支委会
    PARTY_GROUP_MEETING = "party_group_meeting"  # 党小组会
    PARTY_LECTURE = "party_lecture"  # 党课
    INTEGRITY_THEME_DAY = "integrity_theme_day"  # 廉政特色主题党日
    INTEGRITY_PLEDGE = "integrity_pledge"  # 党风廉政承诺书
    THREE_RULES_REPORT = "three_rules_report"  # 防止干预司法“三个规定”填报
    ROTATION_TRAINING = "rotation_training"  # 政治轮训
    SPEECH_CONTEST = "speech_contest"  # 演讲比赛


def _credit_code(code: str) -> str:
    problem = credit_code_problem(code)
    if problem:
        raise ValueError(f"invalid unified social credit code: {problem}")
    return code


class Enterprise(Contract):
    """An enterprise or unit, identified by its unified social credit code (统一社会信用代码)."""

    name: Text
    credit_code: Annotated[str, AfterValidator(_credit_code)] = Field(examples=["91350100M000100Y43"])


class VolunteerDeployed(Contract):
    """A member served as a volunteer (志愿服务)."""

    member_id: Id
    branch_id: Id
    kind: DeploymentKind
    started_at: AwareDatetime
    hours: float = Field(gt=0, le=24)
    place: Text
    note: Note

    @property
    def occurred_at(self) -> datetime:
        return self.started_at


class LiaisonContactMade(Contract):
    """A liaison judge contacted an enterprise (法官联系企业)."""

    member_id: Id
    branch_id: Id
    kind: ContactKind
    channel: Channel
    enterprise: Enterprise
    occurred_at: AwareDatetime
    note: Note


class TrainingCompleted(Contract):
    """A member completed a session of political training or organisational life."""

    member_id: Id
    branch_id: Id
    kind: TrainingKind
    session_id: Id
    completed_at: AwareDatetime
    score: float | None = Field(default=None, ge=0, le=100)

    @property
    def occurred_at(self) -> datetime:
        return self.completed_at


class RecordVoided(Contract):
    """A correction: the record `event_id` stops counting. It carries the record's own time so
    the void lands in the same period as the record it cancels."""

    event_id: Id
    branch_id: Id
    record_occurred_at: AwareDatetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


Record = VolunteerDeployed | LiaisonContactMade | TrainingCompleted
Payload = Record | RecordVoided


@dataclass(frozen=True)
class EventType:
    """One registered event type: its stream and payload model."""

    name: str
    stream: Stream
    model: type[Contract]


def _type(suffix: str, stream: Stream, model: type[Contract]) -> EventType:
    return EventType(f"{TYPE_PREFIX}{suffix}.{SCHEMA_VERSION}", stream, model)


EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        _type("volunteer.deployed", Stream.VOLUNTEER, VolunteerDeployed),
        _type("volunteer.voided", Stream.VOLUNTEER, RecordVoided),
        _type("liaison.contacted", Stream.LIAISON, LiaisonContactMade),
        _type("liaison.voided", Stream.LIAISON, RecordVoided),
        _type("training.completed", Stream.TRAINING, TrainingCompleted),
        _type("training.voided", Stream.TRAINING, RecordVoided),
    )
}


def type_for(stream: Stream, voided: bool = False) -> str:
    """The event type name for a stream's records or voids."""
    model_kind = (
        "voided"
        if voided
        else {"volunteer": "deployed", "liaison": "contacted", "training": "completed"}[stream.value]
    )
    return f"{TYPE_PREFIX}{stream.value}.{model_kind}.{SCHEMA_VERSION}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # extensions are allowed and ignored

    specversion: Literal["1.0"] = "1.0"
    id: Id
    source: Annotated[str, Field(min_length=1, max_length=200)]
    type: str
    time: AwareDatetime
    subject: Id
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]


class ContractError(ValueError):
    """A record that breaks the contract; the message is the reason given to the sender."""


@dataclass(frozen=True)
class ParsedEvent:
    """An envelope with its validated payload."""

    envelope: CloudEvent
    event_type: EventType
    payload: Payload


def _reasons(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors())


def parse_event(raw: bytes | str) -> ParsedEvent:
    """Decode and validate one record's value; raise ContractError with the reason."""
    try:
        envelope = CloudEvent.model_validate_json(raw)
    except ValidationError as err:
        raise ContractError(f"invalid envelope: {_reasons(err)}") from None
    event_type = EVENT_TYPES.get(envelope.type)
    if event_type is None:
        if envelope.type.rpartition(".")[0] in {t.rpartition(".")[0] for t in EVENT_TYPES}:
            raise ContractError(f"unsupported schema version of {envelope.type}")
        raise ContractError(f"unknown event type {envelope.type}")
    try:
        payload = event_type.model.model_validate(envelope.data)
    except ValidationError as err:
        raise ContractError(f"invalid data: {_reasons(err)}") from None
    if payload.branch_id != envelope.subject:  # type: ignore[attr-defined]
        raise ContractError("subject must equal data.branch_id")
    return ParsedEvent(envelope, event_type, payload)  # type: ignore[arg-type]


def build_event(event_id: str, source: str, stream: Stream, payload: Payload, time: datetime) -> CloudEvent:
    """Wrap a payload in its envelope; `time` is when the intake accepted it."""
    voided = isinstance(payload, RecordVoided)
    return CloudEvent(
        id=event_id,
        source=source,
        type=type_for(stream, voided),
        time=time,
        subject=payload.branch_id,
        data=payload.model_dump(mode="json", exclude_none=True),
    )
