"""The wire contract: CloudEvents envelopes, record payloads, the topic registry and parse_event.

Every producer (the intake services, or any other service writing straight onto the topics) and
the scoring worker go through this one module, so the contract cannot drift between them.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo

import msgspec
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from shared.credit_code import credit_code_problem

TYPE_PREFIX = "cn.court.partybuilding."
SCHEMA_VERSION = "v1"
CONTENT_TYPE = "application/cloudevents+json"

# Ids travel in URLs, Kafka keys and MongoDB documents: a narrow alphabet keeps every one of
# those safe (no '$', '.', '/', spaces or control characters).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_:\-]{0,127}$"
# Ids the intake derives itself (a record sent without an id, a void) start with this; a sender's
# id may not, so no sender can take the id a later void or content-derived record will need.
RESERVED_ID_PREFIX = "sys-"
Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["branch-zy-civil-1"])]
# Text for people carries no control characters (a NUL cuts strings short in C tools and log
# viewers, an ESC drives terminals) and no bidirectional overrides (they make a name on the board
# read differently from what was stored). Notes and reasons may span lines.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=LINE_PATTERN)]
Note = Annotated[str | None, Field(default=None, max_length=2000, pattern=TEXT_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)]
# A number must come as a JSON number: pydantic would otherwise take "4" or true for 4.0 and 1.0.
StrictNumber = Annotated[float, Strict()]
# The yearly examination's records name their assessment year; the intake's window judges its
# first instant (1 January, Asia/Shanghai), so a year not yet begun is refused.
EARLIEST_YEAR, LATEST_YEAR = 1990, 9999
Year = Annotated[int, Strict(), Field(ge=EARLIEST_YEAR, le=LATEST_YEAR, examples=[2022])]
VOTER_HASH_PATTERN = r"^[0-9a-f]{64}$"


def year_start(year: int) -> datetime:
    """The first instant of an assessment year, in the courts' time zone."""
    return datetime(year, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


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

    def of(self, database: str) -> str:
        """The name of a topic kept per score database ("<database>" in its name), as the score
        feed and the registry are: systems on one broker with other databases never share it."""
        return self.name.replace("<database>", database)


TOPICS: dict[Stream, Topic] = {
    Stream.VOLUNTEER: Topic("volunteer.deployments.v1"),
    Stream.LIAISON: Topic("liaison.contacts.v1"),
    Stream.TRAINING: Topic("training.completions.v1"),
}
DEAD_LETTER = Topic(
    "scoring.deadletter.v1",
    key="the original record's key",
    value="the original record's bytes (truncated past the message size, dlq.truncated_from its size); "
    "headers dlq.reason, where it was read (dlq.topic, dlq.partition, dlq.offset) and, once routed, where "
    "it was first written (dlq.origin.topic, dlq.origin.partition, dlq.origin.offset)",
)
# The audit trail (审计日志): who changed what, where (shared/audit.py); kept forever, never compacted.
AUDIT = Topic(
    "audit.events.v1",
    key='"audit": one partition, so the trail has one order',
    value="CloudEvents 1.0, structured JSON mode; data: actor, role, organisation, action, target, "
    "request id (never a token, a name or a record's content)",
)
# Reminders (提醒, services/scoring/reminders): due/overdue notices and weekly digests; the topic is
# also the scheduler's memory of what it published (kept forever, read back at start).
REMINDERS = Topic(
    "reminders.v1.<database>",
    value="CloudEvents 1.0, structured JSON mode; id: one per type, branch, kind and window",
)
REMINDER_DEAD_LETTER = Topic(
    "reminders.deadletter.v1.<database>",
    key="the subscription id",
    value="the reminder event a subscriber never took; headers dlq.reason, dlq.subscription, dlq.attempts",
)
REMINDER_CONTROL = Topic(
    "reminders.control.v1.<database>",
    key="none",
    value="nothing yet: its one partition's owner in the scheduler group is the one scheduler running",
)


class Contract(BaseModel):
    """Strict base: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentKind(StrEnum):
    """Kinds of volunteer deployment (司法为民)."""

    TIANPING_VOLUNTEER_TEAM = "tianping_volunteer_team"
    COMMUNITY_DUAL_REPORT = "community_dual_report"
    EPIDEMIC_VOLUNTEER = "epidemic_volunteer"
    COMMUNITY_PARTY_INSTRUCTOR = "community_party_instructor"
    JUDGE_WORKSTATION = "judge_workstation"
    LEGAL_PUBLICITY = "legal_publicity"


class ContactKind(StrEnum):
    """Kinds of enterprise-liaison contact (党建+法官联系人)."""

    VISIT = "visit"
    JUDICIAL_SUGGESTION = "judicial_suggestion"
    PRE_LITIGATION_RESOLUTION = "pre_litigation_resolution"
    SYMPOSIUM = "symposium"


class Channel(StrEnum):
    """How a liaison contact was made."""

    ONLINE = "online"
    OFFLINE = "offline"


class Decision(StrEnum):
    """A reviewer's decision on a submitted record (审核)."""

    APPROVED = "approved"
    DECLINED = "declined"


class TrainingKind(StrEnum):
    """Kinds of political-training completion (组织生活与队伍建设)."""

    LECTURE_HALL = "lecture_hall"
    BRANCH_ASSEMBLY = "branch_assembly"
    BRANCH_COMMITTEE = "branch_committee"
    PARTY_GROUP_MEETING = "party_group_meeting"
    PARTY_LECTURE = "party_lecture"
    INTEGRITY_THEME_DAY = "integrity_theme_day"
    INTEGRITY_PLEDGE = "integrity_pledge"
    THREE_RULES_REPORT = "three_rules_report"
    ROTATION_TRAINING = "rotation_training"
    SPEECH_CONTEST = "speech_contest"


class EvaluationLevel(StrEnum):
    """A democratic-evaluation ballot's level (民主评议), also the four political-quality grades."""

    GOOD = "good"
    FAIRLY_GOOD = "fairly_good"
    AVERAGE = "average"
    POOR = "poor"


class Performance(StrEnum):
    """The cadre performance appraisal's result (干部绩效考核)."""

    EXCELLENT = "excellent"
    COMPETENT = "competent"
    BASICALLY_COMPETENT = "basically_competent"
    INCOMPETENT = "incompetent"


# The Chinese term of every enum value, with its English gloss: the article's vocabulary, shown
# to senders in the OpenAPI document (tests check that no value lacks one).
TERMS: Mapping[StrEnum, tuple[str, str]] = {
    DeploymentKind.TIANPING_VOLUNTEER_TEAM: ("天平志愿服务队", "the court's Tianping volunteer team"),
    DeploymentKind.COMMUNITY_DUAL_REPORT: ("社区双报到", "reporting to and serving one's home community"),
    DeploymentKind.EPIDEMIC_VOLUNTEER: ("疫情防控志愿者", "epidemic-control volunteer"),
    DeploymentKind.COMMUNITY_PARTY_INSTRUCTOR: (
        "社区临时党组织指导员",
        "instructor of a temporary community Party organisation",
    ),
    DeploymentKind.JUDGE_WORKSTATION: ("法官工作站", "duty at a judges' workstation in a community"),
    DeploymentKind.LEGAL_PUBLICITY: ("法治宣传", "legal publicity"),
    ContactKind.VISIT: ("走访", "a visit"),
    ContactKind.JUDICIAL_SUGGESTION: ("司法建议", "a judicial suggestion issued"),
    ContactKind.PRE_LITIGATION_RESOLUTION: ("诉前化解", "a dispute resolved before litigation"),
    ContactKind.SYMPOSIUM: ("企业家座谈会", "a symposium with entrepreneurs"),
    Channel.ONLINE: ("线上", "online"),
    Channel.OFFLINE: ("线下", "offline, in person"),
    TrainingKind.LECTURE_HALL: (
        "政治理论及业务学习大讲堂",
        "the monthly lecture hall on political theory and court business",
    ),
    TrainingKind.BRANCH_ASSEMBLY: ("支部党员大会", "branch general meeting (三会一课)"),
    TrainingKind.BRANCH_COMMITTEE: ("支委会", "branch committee meeting (三会一课)"),
    TrainingKind.PARTY_GROUP_MEETING: ("党小组会", "Party group meeting (三会一课)"),
    TrainingKind.PARTY_LECTURE: ("党课", "Party lecture (三会一课)"),
    TrainingKind.INTEGRITY_THEME_DAY: ("廉政特色主题党日", "the quarterly integrity-themed Party day"),
    TrainingKind.INTEGRITY_PLEDGE: ("党风廉政承诺书", "the yearly integrity pledge"),
    TrainingKind.THREE_RULES_REPORT: (
        "防止干预司法“三个规定”填报",
        "report under the three regulations against interference in justice",
    ),
    TrainingKind.ROTATION_TRAINING: ("政治轮训", "political rotation training"),
    TrainingKind.SPEECH_CONTEST: ("演讲比赛", "speech contest"),
    EvaluationLevel.GOOD: ("好", "good"),
    EvaluationLevel.FAIRLY_GOOD: ("较好", "fairly good"),
    EvaluationLevel.AVERAGE: ("一般", "average"),
    EvaluationLevel.POOR: ("较差", "poor"),
    Performance.EXCELLENT: ("优秀", "excellent"),
    Performance.COMPETENT: ("称职", "competent"),
    Performance.BASICALLY_COMPETENT: ("基本称职", "basically competent"),
    Performance.INCOMPETENT: ("不称职", "incompetent"),
    Decision.APPROVED: ("审核通过", "approved: the record counts"),
    Decision.DECLINED: ("审核不通过", "declined: the record does not count"),
}


def describe_values(intro: str, enum: type[StrEnum]) -> str:
    """A field description: `intro`, then a table of the enum's values with their Chinese terms."""
    rows = [f"| `{v.value}` | {TERMS[v][0]} | {TERMS[v][1]} |" for v in enum]
    return "\n".join([intro, "", "| value | 中文 | meaning |", "|---|---|---|", *rows])


def _credit_code(code: str) -> str:
    problem = credit_code_problem(code)
    if problem:
        raise ValueError(f"invalid unified social credit code: {problem}")
    return code


MemberId = Annotated[Id, Field(description="The member (党员干警) who did it.", examples=["m-001"])]
BranchId = Annotated[
    Id,
    Field(
        description="The member's Party branch (党支部), the unit scored and ranked; also the Kafka key.",
        examples=["zy-civil-1"],
    ),
]
# One reader of times for this contract and the worker's fast decoder (shared/fast_contracts.py),
# so the two cannot disagree on one: msgspec's RFC 3339 parser, given a string with date, time to
# the second and a UTC offset (it also reads a space for the T, and +0800 for +08:00). Never a
# number: pydantic alone would take 1700000000 or "1700000000" as a Unix time, and
# "2022-03-12T09:00+08:00" without seconds.
RFC3339 = Annotated[datetime, msgspec.Meta(tz=True)]
# Fraction digits past the microsecond (.NET writes seven) are cut, not rounded: 23:59:59.9999999
# on the last day of a month is still that month. Both readers cut them before parsing.
FINER_THAN_MICROSECONDS = re.compile(r"^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d\.\d{6})\d+")
_FINER_THAN_MICROSECONDS_IN_JSON = re.compile(rb'("\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d\.\d{6})\d+')
_SEVEN_FRACTION_DIGITS = re.compile(rb"\.[0-9]{7}")  # a cheap first look: dots are rare in records


def cut_finer_than_microseconds(raw: bytes) -> bytes:
    """A record's JSON with every time's fraction cut to microseconds, as both readers take it."""
    if _SEVEN_FRACTION_DIGITS.search(raw) is None:
        return raw
    return _FINER_THAN_MICROSECONDS_IN_JSON.sub(rb"\1", raw)


TIME_FORMAT = "an RFC 3339 date-time string with its timezone offset, e.g. 2022-03-12T09:00:00+08:00"


def parse_time(value: object) -> object:
    """An RFC 3339 string read as the fast decoder reads it; a datetime (built in code) as it is."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be {TIME_FORMAT}, not {type(value).__name__}")
    try:
        return msgspec.convert(FINER_THAN_MICROSECONDS.sub(r"\1", value), RFC3339)
    except msgspec.ValidationError as err:
        raise ValueError(f"must be {TIME_FORMAT} ({err})") from None


Time = Annotated[AwareDatetime, BeforeValidator(parse_time), Field(examples=["2022-03-12T09:00:00+08:00"])]


@dataclass(frozen=True)
class TimeWindow:
    """The times a record may carry: from `earliest` to the receiver's clock plus `ahead`."""

    earliest: datetime  # aware
    ahead: timedelta

    def describe(self) -> str:
        seconds = int(self.ahead.total_seconds())
        minutes, rest = divmod(seconds, 60)
        ahead = f"{minutes} minute{'s' * (minutes != 1)}" if not rest else f"{seconds} seconds"
        return f"{self.earliest.isoformat()} .. now + {ahead}"


# Far enough back for any record the assessment scores, and far from the ends of the datetime
# range (year 1 at +14:00 has no UTC equivalent: periods and BSON overflow on it); the margin
# ahead allows for senders' clock skew. Configurable: shared/settings.py, TimeWindowSettings.
DEFAULT_TIME_WINDOW = TimeWindow(
    earliest=datetime(1990, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")), ahead=timedelta(minutes=10)
)
_WHEN = (
    "as an RFC 3339 date-time string to the second with its UTC offset (e.g. +08:00; never a number), "
    f"within {DEFAULT_TIME_WINDOW.describe()} (the service's clock; "
    "configurable); it decides the month, quarter and year"
)


class Enterprise(Contract):
    """An enterprise or unit, identified by its unified social credit code (统一社会信用代码)."""

    name: Text = Field(
        description="The enterprise's or unit's registered name.", examples=["沧州市某机械制造有限公司"]
    )
    credit_code: Annotated[str, AfterValidator(_credit_code)] = Field(
        description="Its 18-character unified social credit code (统一社会信用代码, GB 32100-2015); "
        "the last character is a check character and is verified.",
        examples=["91350100M000100Y43"],
    )


class VolunteerDeployed(Contract):
    """A member served as a volunteer (志愿服务)."""

    time_field: ClassVar[str] = "started_at"

    member_id: MemberId
    branch_id: BranchId
    kind: DeploymentKind = Field(
        description=describe_values("What kind of volunteer service (志愿服务):", DeploymentKind),
        examples=["tianping_volunteer_team"],
    )
    started_at: Time = Field(description=f"When the service began, {_WHEN} it counts in.")
    hours: StrictNumber = Field(
        gt=0, le=24, description="Hours served: more than 0, at most 24.", examples=[4]
    )
    place: Text = Field(description="Where: a community, street or workstation.", examples=["运河区"])
    note: Note = Field(description="Free text for people; not scored.", examples=["社区疫情防控值守"])

    @property
    def occurred_at(self) -> datetime:
        return self.started_at


class LiaisonContactMade(Contract):
    """A liaison judge contacted an enterprise (法官联系企业)."""

    time_field: ClassVar[str] = "occurred_at"

    member_id: Annotated[MemberId, Field(description="The liaison judge (法官联系人), a member.")]
    branch_id: BranchId
    kind: ContactKind = Field(
        description=describe_values("What kind of contact (联系企业):", ContactKind),
        examples=["visit"],
    )
    channel: Channel = Field(
        description=describe_values("How the contact was made:", Channel), examples=["offline"]
    )
    enterprise: Enterprise = Field(
        description="The enterprise or unit contacted.",
        examples=[{"name": "沧州市某机械制造有限公司", "credit_code": "91350100M000100Y43"}],
    )
    occurred_at: Time = Field(description=f"When the contact took place, {_WHEN} it counts in.")
    note: Note = Field(description="Free text for people; not scored.", examples=["走访了解企业涉诉风险"])


class TrainingCompleted(Contract):
    """A member completed a session of political training or organisational life."""

    time_field: ClassVar[str] = "completed_at"

    member_id: MemberId
    branch_id: BranchId
    kind: TrainingKind = Field(
        description=describe_values("What kind of session (组织生活与政治学习):", TrainingKind),
        examples=["lecture_hall"],
    )
    session_id: Id = Field(
        description="The session this completion belongs to (one month's lecture hall, one meeting); "
        "a member counts once per session.",
        examples=["lecture-2022-08"],
    )
    completed_at: Time = Field(description=f"When the member completed the session, {_WHEN} it counts in.")
    score: StrictNumber | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The member's test score out of 100, where the session has a test.",
        examples=[92],
    )

    @property
    def occurred_at(self) -> datetime:
        return self.completed_at


class MemberEvaluated(Contract):
    """A democratic-evaluation ballot (民主评议) on a member, as it travels: its voter only as a
    salted hash (HMAC-SHA256 made by the intake), so no raw voter id reaches Kafka."""

    time_field: ClassVar[str] = "year"

    voter_hash: str = Field(
        pattern=VOTER_HASH_PATTERN,
        description="HMAC-SHA256 (hex) of the voter's member id under the training service's secret "
        "(TRAINING_VOTER_SALT): one ballot counts per voter, member and year.",
        examples=["5f0c3b8c4a6f4e0d9b7c1a2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"],
    )
    member_id: Annotated[MemberId, Field(description="The member (党员) the ballot rates.")]
    branch_id: BranchId
    year: Year = Field(description="The assessment year (考核年度) the ballot belongs to.")
    level: EvaluationLevel = Field(
        description=describe_values("The voter's rating (民主评议等次):", EvaluationLevel), examples=["good"]
    )

    @property
    def occurred_at(self) -> datetime:
        return year_start(self.year)


class MemberAppraised(Contract):
    """A member's year results imported from the court's performance systems: trial quality and
    efficiency (审判质效) as a score, and the cadre performance appraisal (干部绩效考核)."""

    time_field: ClassVar[str] = "year"

    member_id: MemberId
    branch_id: BranchId
    year: Year = Field(description="The assessment year (考核年度).")
    source: Id = Field(
        description="The system the results come from; the latest record per source counts.",
        examples=["trial-performance-system"],
    )
    trial_quality: StrictNumber = Field(
        ge=0, le=100, description="Trial quality and efficiency (审判质效) out of 100.", examples=[88.5]
    )
    performance: Performance = Field(
        description=describe_values("The cadre performance appraisal (干部绩效考核):", Performance),
        examples=["competent"],
    )

    @property
    def occurred_at(self) -> datetime:
        return year_start(self.year)


class RecordVoided(Contract):
    """A correction: the record `event_id` stops counting. It carries the record's own time so
    the void lands in the same period as the record it cancels."""

    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id = Field(description="The id of the record that stops counting.", examples=["hr-sys-000123"])
    branch_id: BranchId
    record_occurred_at: Time = Field(
        description="The voided record's own time (its period), as an RFC 3339 date-time string with its "
        f"UTC offset, within {DEFAULT_TIME_WINDOW.describe()}."
    )
    reason: Reason = Field(description="Why the record is voided.", examples=["entered twice by mistake"])

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


Record = VolunteerDeployed | LiaisonContactMade | TrainingCompleted | MemberEvaluated | MemberAppraised
# Evidence (佐证材料) is stored by the intake service; its events name the file, never its content.
EVIDENCE_MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf")
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class RecordReviewed(Contract):
    """A reviewer's decision (审核) on a record submitted for review: approved, it counts; declined,
    it does not. It carries the record's own time (as a void does), so it lands in its period."""

    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id = Field(description="The id of the record decided on.", examples=["hr-sys-000123"])
    branch_id: BranchId
    record_occurred_at: Time = Field(description="The record's own time (its period).")
    decision: Decision = Field(description=describe_values("The decision:", Decision), examples=["approved"])
    reason: Reason = Field(description="Why: kept with the decision.", examples=["照片与签到表齐全"])

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


class EvidenceAttached(Contract):
    """A file of evidence (佐证材料) attached to a record: its SHA-256, type and size (the content
    stays in the intake service's database, readable by the record's reviewers)."""

    time_field: ClassVar[str] = "record_occurred_at"

    event_id: Id = Field(description="The id of the record the file supports.", examples=["hr-sys-000123"])
    branch_id: BranchId
    record_occurred_at: Time = Field(description="The record's own time (its period).")
    sha256: str = Field(pattern=SHA256_PATTERN, description="The file's SHA-256, hex.")
    media_type: Literal["image/jpeg", "image/png", "application/pdf"] = Field(
        description="The type its content shows (magic bytes), not the one declared."
    )
    size: Annotated[int, Strict()] = Field(gt=0, le=EVIDENCE_MAX_BYTES, description="Bytes.")

    @property
    def occurred_at(self) -> datetime:
        return self.record_occurred_at


Payload = Record | RecordVoided | RecordReviewed | EvidenceAttached


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
        _type("training.evaluated", Stream.TRAINING, MemberEvaluated),
        _type("training.appraised", Stream.TRAINING, MemberAppraised),
        *(_type(f"{s.value}.reviewed", s, RecordReviewed) for s in Stream),
        *(_type(f"{s.value}.evidenced", s, EvidenceAttached) for s in Stream),
    )
}
_TYPE_OF_MODEL = {(t.stream, t.model): t.name for t in EVENT_TYPES.values()}


def type_for(stream: Stream, voided: bool = False) -> str:
    """The event type name for a stream's records or voids."""
    model_kind = (
        "voided"
        if voided
        else {"volunteer": "deployed", "liaison": "contacted", "training": "completed"}[stream.value]
    )
    return f"{TYPE_PREFIX}{stream.value}.{model_kind}.{SCHEMA_VERSION}"


def type_of(stream: Stream, payload: Payload) -> str:
    """The event type name of a payload on its stream (a stream may carry several record models)."""
    return _TYPE_OF_MODEL[(stream, type(payload))]


# CloudEvents 1.0: an extension attribute's name is lower-case ASCII letters and digits; its value
# in JSON a string, a boolean or a 32-bit integer. Anything else (an object, a float, NaN) is
# refused rather than ignored, so no decoder has to agree with another on how to skip it.
EXTENSION_NAME = re.compile(r"[a-z0-9]+")
INT32 = range(-(2**31), 2**31)


def extension_problem(name: str, value: object) -> str | None:
    """Say what is wrong with an extension attribute, or None when CloudEvents allows it."""
    if not EXTENSION_NAME.fullmatch(name):
        return f"extension attribute {name[:40]!r}: a name is lower-case letters and digits only"
    if isinstance(value, str | bool) or (isinstance(value, int) and value in INT32):
        return None
    return f"extension attribute {name!r}: must be a string, a boolean or a 32-bit integer"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(extra="allow", frozen=True)  # extensions: checked, then ignored

    specversion: Literal["1.0"]
    id: Id
    source: Annotated[str, Field(min_length=1, max_length=200)]
    type: str
    time: Time
    subject: Id
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    # Set by the intake on a record submitted by a member or clerk: it counts only once approved.
    # Decided at acceptance and carried in the event, so a later rulebook never un-counts history.
    review: Literal["required"] | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _extensions_allowed(self) -> "CloudEvent":
        for name, value in (self.model_extra or {}).items():
            if problem := extension_problem(name, value):
                raise ValueError(problem)
        return self


class ContractError(ValueError):
    """A record that breaks the contract; the message is the reason given to the sender."""


class Timed(Protocol):
    """A payload, as either decoder gives it, with the one time that decides its period."""

    time_field: ClassVar[str]

    @property
    def occurred_at(self) -> datetime: ...


def check_time_window(payload: Timed, now: datetime, window: TimeWindow = DEFAULT_TIME_WINDOW) -> None:
    """Raise ContractError naming the field when the payload's time lies outside the window."""
    name, value = type(payload).time_field, payload.occurred_at
    try:
        # Aware datetimes compare by their difference, without converting either one to UTC, so
        # even year 1 at +14:00 or year 9999 at -14:00 (neither has a UTC equivalent) compares.
        inside = window.earliest <= value <= now + window.ahead
    except OverflowError:  # a bound itself out of range: nothing can be placed in the window
        inside = False
    if not inside:
        raise ContractError(f"{name}: {value.isoformat()} is outside the accepted window {window.describe()}")


@dataclass(frozen=True)
class ParsedEvent:
    """An envelope with its validated payload."""

    envelope: CloudEvent
    event_type: EventType
    payload: Payload


def _reasons(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors())


def event_type_named(name: str) -> EventType:
    """The registered event type called `name`; raise ContractError saying why there is none."""
    event_type = EVENT_TYPES.get(name)
    if event_type is None:
        if name.rpartition(".")[0] in {t.rpartition(".")[0] for t in EVENT_TYPES}:
            raise ContractError(f"unsupported schema version of {name[:200]}")
        raise ContractError(f"unknown event type {name[:200]}")  # a reason fits in a header
    return event_type


def parse_event(raw: bytes | str) -> ParsedEvent:
    """Decode and validate one record's value; raise ContractError with the reason."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    raw = cut_finer_than_microseconds(raw)
    try:
        envelope = CloudEvent.model_validate_json(raw)
    except ValidationError as err:
        raise ContractError(f"invalid envelope: {_reasons(err)}") from None
    event_type = event_type_named(envelope.type)
    try:
        payload = event_type.model.model_validate(envelope.data)
    except ValidationError as err:
        raise ContractError(f"invalid data: {_reasons(err)}") from None
    if payload.branch_id != envelope.subject:  # type: ignore[attr-defined]
        raise ContractError("subject must equal data.branch_id")
    return ParsedEvent(envelope, event_type, payload)  # type: ignore[arg-type]


def build_event(
    event_id: str, source: str, stream: Stream, payload: Payload, time: datetime, review: bool = False
) -> CloudEvent:
    """Wrap a payload in its envelope; `time` is when the intake accepted it; `review`: the record
    counts only once approved (a member's or clerk's submission)."""
    return CloudEvent(
        specversion="1.0",
        id=event_id,
        source=source,
        type=type_of(stream, payload),
        time=time,
        subject=payload.branch_id,
        data=payload.model_dump(mode="json", exclude_none=True),
        review="required" if review else None,
    )
