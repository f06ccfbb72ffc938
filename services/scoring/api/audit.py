"""GET /v1/audit: the audit trail (审计日志) for city and court admins, newest first, answered
from an index this process builds by following the audit topic from its beginning (as the score
view follows the feed). The API writes its own events (registry changes) through app.state.auditor."""

import asyncio
import bisect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from aiokafka import AIOKafkaConsumer
from fastapi import APIRouter, FastAPI, Query
from pydantic import AwareDatetime, BaseModel, Field

from shared.audit import ACTION_PATTERN, Auditor, AuditRecorded, decode
from shared.auth import Admin, AuthFirstRoute
from shared.contracts import AUDIT, ID_PATTERN
from shared.kafka import EVENT_TOPIC_CONFIG, KafkaPublisher, ensure_topics, partitions_of
from shared.kafka_watch import FetchWatch, keep_running
from shared.problems import Problem, problem_responses
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
MAX_EVENTS = 200_000  # held in memory; older events stay on the topic (kept forever)
SCAN_LIMIT = 50_000  # events one page looks at: a rare filter answers a short page and a cursor
CURSOR = r"^[0-9]{1,20}-[0-9]{1,10}-[0-9]{1,20}$"
Key = tuple[int, int, int]  # (time in µs, partition, offset): the trail's order


class AuditEventOut(AuditRecorded):
    id: str = Field(description="the CloudEvent id")


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next: str | None = Field(description="`before=` for the next (older) page; null: no more")


@dataclass(frozen=True, slots=True)
class _Entry:
    key: Key
    event_id: str
    event: AuditRecorded


def _key_text(key: Key) -> str:
    return "-".join(map(str, key))


class AuditIndex:
    """Audit events in the trail's order, at most MAX_EVENTS (the oldest leave first)."""

    def __init__(self, max_events: int = MAX_EVENTS):
        self._keys: list[Key] = []
        self._entries: list[_Entry] = []
        self._max = max_events

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, partition: int, offset: int, raw: bytes) -> None:
        try:
            event_id, event = decode(raw)
        except ValueError as err:
            log.warning("audit topic: skipped a record at %d/%d: %s", partition, offset, err)
            return
        key = (int(event.time.timestamp() * 1_000_000), partition, offset)
        i = bisect.bisect(self._keys, key)  # nearly always the end: events come in time order
        if i and self._keys[i - 1] == key:
            return  # read again after the follower started over
        self._keys.insert(i, key)
        self._entries.insert(i, _Entry(key, event_id, event))
        if len(self._entries) > self._max:
            drop = max(1, self._max // 10)
            del self._keys[:drop], self._entries[:drop]

    def page(
        self,
        limit: int,
        before: Key | None = None,
        court: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[_Entry], str | None]:
        """Newest first, older than `before`; `court`: events landing in or leaving it, or done
        by its callers."""
        start = bisect.bisect_left(self._keys, before) if before else len(self._keys)
        floor = int(since.timestamp() * 1_000_000) if since else None
        found: list[_Entry] = []
        i = start - 1
        while i >= 0 and start - i <= SCAN_LIMIT:
            entry = self._entries[i]
            if floor is not None and entry.key[0] < floor:
                return found, None
            e = entry.event
            if (
                (court is None or court in (e.court, e.actor_court, e.from_court))
                and (actor is None or e.actor == actor)
                and (target is None or e.target == target)
                and (action is None or e.action == action)
            ):
                found.append(entry)
                if len(found) == limit:
                    return found, _key_text(entry.key) if i > 0 else None
            i -= 1
        return found, _key_text(self._keys[i + 1]) if i >= 0 else None


class AuditFollower:
    """Keeps an AuditIndex current: reads the audit topic from the beginning, then follows it."""

    def __init__(self, kafka: KafkaSettings):
        self._kafka = kafka
        self.index = AuditIndex()
        self.caught_up = False

    async def run(self) -> None:
        await keep_running("audit topic", self._follow)

    async def _follow(self) -> None:
        await ensure_topics(self._kafka, [AUDIT.name], EVENT_TOPIC_CONFIG)
        consumer = AIOKafkaConsumer(
            **self._kafka.client_options(), enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await consumer.start()
        try:
            tps = await partitions_of(self._kafka, [AUDIT.name])
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            watch = FetchWatch(consumer, self._kafka, [AUDIT.name])
            while True:
                await watch.look()
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batch.items():
                    for r in records:
                        if r.value is not None:
                            self.index.add(tp.partition, r.offset, r.value)
                    await asyncio.sleep(0)
                if not self.caught_up:
                    self.caught_up = all([await consumer.position(tp) >= ends[tp] for tp in tps])
        finally:
            await consumer.stop()


def audit_router(kafka: KafkaSettings, source: str = "scoring-api") -> APIRouter:
    """The route, and (for the app's lifetime) the follower and the auditor of the API's own writes."""
    follower = AuditFollower(kafka)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publisher = KafkaPublisher(kafka, client_id=f"{source}-audit")
        app.state.auditor = Auditor(publisher, kafka, source)
        task = asyncio.create_task(follower.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await publisher.stop()

    router = APIRouter(tags=["audit"], route_class=AuthFirstRoute, lifespan=lifespan)

    @router.get(
        "/v1/audit",
        response_model=AuditPage,
        summary="The audit trail (审计日志), newest first (admin; a court's admin: its court's)",
        responses=problem_responses({503: "the trail is still being read: retry after Retry-After seconds"}),
    )
    async def audit_trail(
        _: Admin,
        actor: Annotated[
            str | None, Query(max_length=200, description="a token's name or oidc:<sub>")
        ] = None,
        target: Annotated[str | None, Query(pattern=ID_PATTERN, description="a branch or record id")] = None,
        action: Annotated[str | None, Query(pattern=ACTION_PATTERN, examples=["branch.put"])] = None,
        since: Annotated[AwareDatetime | None, Query(description="RFC 3339, with an offset")] = None,
        court: Annotated[
            str | None,
            Query(pattern=ID_PATTERN, description="events in this court (a court's admin: its own)"),
        ] = None,
        before: Annotated[str | None, Query(pattern=CURSOR, description="the previous page's `next`")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        if not follower.caught_up:
            raise Problem(
                503, "Service Unavailable", "still reading the audit trail", headers={"Retry-After": "2"}
            )
        cursor = tuple(int(x) for x in before.split("-")) if before else None
        entries, after = follower.index.page(limit, cursor, court, actor, target, action, since)  # type: ignore[arg-type]
        items = [AuditEventOut(id=e.event_id, **e.event.model_dump()) for e in entries]
        return AuditPage(items=items, next=after)

    return router
