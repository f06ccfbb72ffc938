"""The registry's events (登记册变更): branches and members as effective-dated changes on one
topic kept forever, so every period can be reproduced as it was. Ids, roles and dates only: a
member's name is never in an event (an append-only log could not forget it); it lives in the
scoring API's `member_names` collection, which an erasure empties."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import orjson
from pydantic import Field, Strict

from shared.contracts import ID_PATTERN, LINE_PATTERN, TYPE_PREFIX, Contract, Topic

REGISTRY = Topic(
    "registry.events.v1.<database>",  # one per database, as the branch registry and score feed are
    key="the branch or member id, UTF-8",
    value="CloudEvents 1.0, structured JSON mode; data: a branch's registered fields or a member's "
    "branch, role, joined/left and the date the change is effective from (never a member's name)",
)
# One partition: one order for the whole registry, read whole by every API process.
REGISTRY_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def registry_topic(database: str) -> str:
    """The registry topic of the system keeping its data in `database` (a valid topic name)."""
    return REGISTRY.name.replace("<database>", database)


BRANCH_TYPE = f"{TYPE_PREFIX}registry.branch.v1"
MEMBER_TYPE = f"{TYPE_PREFIX}registry.member.v1"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
# Dates of the registry: real calendar days, in a span where a day before or after still exists.
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]


class BranchChanged(Contract):
    """A branch's registered fields, from `effective` on (null: for every period)."""

    branch_id: Id
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=LINE_PATTERN)]
    court: Id
    court_name: Annotated[str | None, Field(max_length=100, pattern=LINE_PATTERN)] = None
    members: Annotated[int, Strict(), Field(ge=1, le=10_000)]
    effective: Day | None = None


class MemberChanged(Contract):
    """A member's branch, role and membership dates, from `effective` on."""

    member_id: Id
    branch_id: Id
    role: Literal["secretary", "committee", "member"]
    joined: Day
    left: Day | None = None
    effective: Day


def encode(event: BranchChanged | MemberChanged, source: str = "scoring-api") -> tuple[bytes, bytes]:
    """(key, CloudEvent) of a registry change."""
    kind, key = (
        (BRANCH_TYPE, event.branch_id) if isinstance(event, BranchChanged) else (MEMBER_TYPE, event.member_id)
    )
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": uuid.uuid4().hex,
            "source": source,
            "type": kind,
            "time": datetime.now(UTC).isoformat(),
            "subject": key,
            "datacontenttype": "application/json",
            "data": event.model_dump(mode="json"),
        }
    )
    return key.encode(), value


def decode(raw: bytes) -> BranchChanged | MemberChanged:
    """The change a registry record carries; ValueError for anything else."""
    doc = orjson.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise ValueError("not a registry event")
    if doc.get("type") == BRANCH_TYPE:
        return BranchChanged.model_validate(doc["data"])
    if doc.get("type") == MEMBER_TYPE:
        return MemberChanged.model_validate(doc["data"])
    raise ValueError(f"not a registry event type: {str(doc.get('type'))[:80]}")
