"""The audit trail (审计日志): every state-changing request as an event (who, in which role and
organisation, did what to which target, when, under which request id) on the append-only topic
AUDIT, kept forever.

Written before the change: a route audits once the caller is authorised and the change checked,
then makes it. If the audit event cannot be written the request fails (503, Retry-After) and
nothing changes, so no change is ever unaudited; an event whose change then failed (Kafka or
MongoDB away, or a void of a void) records an attempt. The event holds ids only: never a token,
a person's or branch's name, a reason, a record's content or evidence."""

import asyncio
import getpass
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import Request
from prometheus_client import Counter
from pydantic import AwareDatetime, Field

from shared.auth import branch_court
from shared.contracts import AUDIT, ID_PATTERN, TYPE_PREFIX, Contract
from shared.kafka import EVENT_TOPIC_CONFIG, KafkaPublisher, ensure_topics
from shared.principal import Principal
from shared.problems import Problem
from shared.settings import KafkaSettings

EVENT_TYPE = f"{TYPE_PREFIX}audit.recorded.v1"
KEY = b"audit"  # one key, one partition: the trail has one order
ACTION_PATTERN = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$"  # e.g. branch.put, record.void, rescore.start
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ACTOR_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
OrgId = Annotated[str | None, Field(pattern=ID_PATTERN)]
AUDITED = Counter("audit_events_total", "Audit events written, and those that could not be.", ["result"])


class AuditRecorded(Contract):
    """One audited act. `court`/`branch`: where the change lands; `actor_*`: the caller's reach."""

    actor: Annotated[str, Field(min_length=1, max_length=ACTOR_CHARS)]  # token name or oidc:<sub>
    role: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]
    scopes: list[Annotated[str, Field(pattern=r"^[a-z:]{1,32}$")]]
    actor_court: OrgId = None
    actor_branch: OrgId = None
    court: OrgId = None
    branch: OrgId = None
    from_court: OrgId = None  # the branch's registered court before, when the change moves it
    action: Annotated[str, Field(pattern=ACTION_PATTERN, max_length=64)]
    target: Annotated[str, Field(pattern=ID_PATTERN)]
    time: AwareDatetime
    request_id: Annotated[str, Field(pattern=f"^{REQUEST_ID.pattern}$")]
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]  # the service that wrote it


def actor_of(principal: Principal) -> str:
    """The caller's name for the trail (its token's name or sign-on subject, never the token)."""
    return _CONTROL.sub("?", principal.name)[:ACTOR_CHARS] or "?"


def envelope(event: AuditRecorded, event_id: str | None = None) -> bytes:
    """The CloudEvent (structured JSON) that carries `event` onto the audit topic."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id or uuid.uuid4().hex,
            "source": event.source,
            "type": EVENT_TYPE,
            "time": event.time.isoformat(),
            "subject": event.target,
            "datacontenttype": "application/json",
            "data": event.model_dump(mode="json"),
        }
    )


def decode(raw: bytes) -> tuple[str, AuditRecorded]:
    """(event id, event) from an audit topic record; ValueError for anything else. Fields this
    version does not know are left out, so an older reader keeps a newer writer's events."""
    doc = orjson.loads(raw)
    if not isinstance(doc, dict) or doc.get("type") != EVENT_TYPE or not isinstance(doc.get("data"), dict):
        raise ValueError("not an audit event")
    known = {k: v for k, v in doc["data"].items() if k in AuditRecorded.model_fields}
    return str(doc["id"]), AuditRecorded.model_validate(known)


class AuditUnavailable(RuntimeError):
    """The audit event could not be written: the change must not happen."""


class Auditor:
    """Writes audit events (the topic made once per process, kept forever, as event topics are)."""

    def __init__(self, publisher: KafkaPublisher, kafka: KafkaSettings, source: str):
        self._publisher, self._kafka, self.source = publisher, kafka, source
        self._ready = False
        self._lock = asyncio.Lock()

    async def write(self, event: AuditRecorded) -> None:
        try:
            if not self._ready:
                async with self._lock:
                    if not self._ready:
                        await ensure_topics(self._kafka, [AUDIT.name], EVENT_TOPIC_CONFIG)
                        self._ready = True
            await self._publisher.publish(AUDIT.name, KEY, envelope(event))
        except Exception as err:  # BrokerUnavailable, RecordTooLarge, the admin client's own errors
            AUDITED.labels("failed").inc()
            raise AuditUnavailable(f"the audit trail could not be written: {type(err).__name__}") from err
        AUDITED.labels("written").inc()


def request_id(request: Request) -> str:
    """The caller's X-Request-ID if well-formed, else one made here (kept for the request)."""
    found = getattr(request.state, "request_id", None)
    if isinstance(found, str):
        return found
    given = request.headers.get("x-request-id", "")
    made = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request.state.request_id = made
    return made


async def audit(
    request: Request,
    who: Principal,
    action: str,
    target: str,
    court: str | None = None,
    branch: str | None = None,
) -> None:
    """The hook every state-changing route calls once the change is authorised, just before
    making it: 503 (Retry-After) if the event cannot be written. A branch's court is the one
    given, else the one the registry names (app.state.org); a branch moving courts names both."""
    auditor: Auditor | None = getattr(request.app.state, "auditor", None)
    if auditor is None:
        raise Problem(503, "Service Unavailable", "the audit trail is not configured")
    registered = await branch_court(request, branch) if branch is not None else None
    court = court or registered
    event = AuditRecorded(
        actor=actor_of(who),
        role=who.role,
        scopes=sorted(who.scopes),
        actor_court=who.court,
        actor_branch=who.branch,
        court=court,
        branch=branch,
        from_court=registered if registered not in (None, court) else None,
        action=action,
        target=target,
        time=datetime.now(UTC),
        request_id=request_id(request),
        source=auditor.source,
    )
    try:
        await auditor.write(event)
    except AuditUnavailable as err:
        raise Problem(503, "Service Unavailable", str(err), headers={"Retry-After": "2"}) from None


async def audit_command(kafka: KafkaSettings, action: str, target: str, source: str) -> None:
    """An operator's command (a rescore): audited before it acts, the OS account as the actor."""
    publisher = KafkaPublisher(kafka, client_id=f"{source}-audit")
    try:
        event = AuditRecorded(
            actor=_CONTROL.sub("?", getpass.getuser())[:ACTOR_CHARS] or "?",
            role="operator",
            scopes=[],
            action=action,
            target=target,
            time=datetime.now(UTC),
            request_id=uuid.uuid4().hex,
            source=source,
        )
        await Auditor(publisher, kafka, source).write(event)
    finally:
        await publisher.stop()
