"""GET /v1/submissions: records submitted for review (审核) and what became of them, for their
submitters (a member: their own; a clerk: their branch) and reviewers (a secretary: their branch;
a court's admin: their court; city admins: the city). Answered from a SubmissionView this process
folds from the intake topics (submission_view.py says why), with gauges of what waits."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaConsumer
from fastapi import APIRouter, FastAPI, Query, Request
from prometheus_client import Gauge
from pydantic import BaseModel, Field

from services.scoring.api.submission_view import Submission, SubmissionView
from shared.auth import AuthFirstRoute, Writer, branch_court
from shared.contracts import ID_PATTERN, TOPICS
from shared.kafka import partitions_of
from shared.kafka_watch import FetchWatch, keep_running
from shared.principal import Principal
from shared.problems import Problem, problem_responses
from shared.settings import KafkaSettings

PENDING = Gauge("scoring_pending_records", "Records submitted for review and not decided on yet (审核).")
OLDEST = Gauge(
    "scoring_oldest_pending_age_seconds", "Age of the oldest record waiting for review (0: none waits)."
)
Status = Literal["pending", "approved", "declined", "voided"]


class EvidenceOut(BaseModel):
    sha256: str
    media_type: str
    size: int
    url: str = Field(description="where its reviewers read it: the intake service's evidence route")


class SubmissionOut(BaseModel):
    id: str
    stream: str
    resource: str = Field(description="the intake route's resource: deployments, contacts or completions")
    branch_id: str
    member_id: str
    kind: str
    occurred_at: datetime
    submitted_at: datetime
    status: Status
    decided_at: datetime | None = None
    reason: str | None = Field(None, description="the latest decision's reason")
    evidence: list[EvidenceOut]
    data: dict[str, Any] = Field(description="the record as submitted")


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    total: int = Field(description="how many match (items holds the first `limit`, oldest first)")


RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}


def _out(s: Submission) -> SubmissionOut:
    resource = RESOURCES[s.stream]
    files = [
        EvidenceOut(
            sha256=e.sha256,
            media_type=e.media_type,
            size=e.size,
            url=f"/v1/{resource}/{s.event_id}/evidence/{e.sha256}",
        )
        for e in s.evidence
    ]
    return SubmissionOut(
        id=s.event_id,
        stream=s.stream,
        resource=resource,
        branch_id=s.branch_id,
        member_id=s.member_id,
        kind=s.kind,
        occurred_at=s.occurred_at,
        submitted_at=s.submitted_at,
        status=s.status,  # type: ignore[arg-type]
        decided_at=s.decided_at,
        reason=s.reason,
        evidence=files,
        data=s.data,
    )


class SubmissionFollower:
    """Keeps a SubmissionView current: the intake topics from their beginning, then followed."""

    def __init__(self, kafka: KafkaSettings, clock: Any = lambda: datetime.now(UTC)):
        self._kafka, self._clock = kafka, clock
        self.view = SubmissionView()
        self.caught_up = False

    async def check(self) -> str | None:
        """Readiness: None once the view holds every record the topics had when it started."""
        return None if self.caught_up else "submissions: still reading the intake topics"

    def oldest_pending_age(self) -> float:
        waiting = [s.submitted_at for s in self.view.pending()]
        return max((self._clock() - min(waiting)).total_seconds(), 0.0) if waiting else 0.0

    async def run(self) -> None:
        await keep_running("submissions", self._follow)

    async def _follow(self) -> None:
        # Read again from the beginning into a view of its own; an earlier complete view is served
        # meanwhile (a restart after a broker outage answers a few seconds late, not 503).
        view = SubmissionView()
        consumer = AIOKafkaConsumer(
            **self._kafka.client_options(), enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await consumer.start()
        try:
            names = [t.name for t in TOPICS.values()]
            tps = await partitions_of(self._kafka, names)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            # A topic given more partitions (a producer's other partitioner may write any of them)
            # is read again from the beginning, new partitions included; a stalled one too.
            watch = FetchWatch(consumer, self._kafka, names)
            while True:
                await watch.look()
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batch.values():
                    for r in records:
                        if r.value is not None:
                            view.add(r.value)
                    await asyncio.sleep(0)
                if self.view is not view and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    self.view, self.caught_up = view, True
        finally:
            await consumer.stop()


async def _visible(
    request: Request, who: Principal, items: list[Submission], court: str | None, branch: str | None
) -> list[Submission]:
    """The submissions the caller may see: a member their own, a branch's roles their branch, a
    court's callers their court (the organisation check has filled in and checked `court=`)."""
    if who.branch is not None:
        if branch not in (None, who.branch):
            raise Problem(403, "Forbidden", f"the token sees branch {who.branch}'s submissions only")
        branch = who.branch
    found = [s for s in items if branch is None or s.branch_id == branch]
    if who.role == "member":
        found = [s for s in found if s.member_id == who.subject]
    if court is not None and branch is None:
        courts = {b: await branch_court(request, b) for b in {s.branch_id for s in found}}
        found = [s for s in found if courts[s.branch_id] == court]
    return found


def submissions_router(kafka: KafkaSettings) -> APIRouter:
    """The route, and (for the app's lifetime) the follower that feeds it and the gauges. Not a
    readiness check: reading a demo year's topics takes half a minute, and the process serves
    everything else meanwhile (the route answers 503 with Retry-After until then)."""
    follower = SubmissionFollower(kafka)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        PENDING.set_function(lambda: len(follower.view.pending()))
        OLDEST.set_function(follower.oldest_pending_age)
        task = asyncio.create_task(follower.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    router = APIRouter(tags=["review"], route_class=AuthFirstRoute, lifespan=lifespan)

    @router.get(
        "/v1/submissions",
        response_model=SubmissionPage,
        summary="Records submitted for review (审核), oldest first: a member's own, a branch's, a court's",
        responses=problem_responses(
            {503: "the topics are still being read: retry after Retry-After seconds"}
        ),
    )
    async def submissions(
        request: Request,
        who: Writer,
        branch: Annotated[str | None, Query(pattern=ID_PATTERN, description="one branch")] = None,
        court: Annotated[
            str | None, Query(pattern=ID_PATTERN, description="one court (a court's callers: their own)")
        ] = None,
        status: Annotated[Status | None, Query(description="pending, approved, declined or voided")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> SubmissionPage:
        if not follower.caught_up:
            raise Problem(
                503, "Service Unavailable", "still reading the submissions", headers={"Retry-After": "2"}
            )
        items = [s for s in follower.view.items.values() if status is None or s.status == status]
        found = sorted(
            await _visible(request, who, items, court, branch), key=lambda s: (s.submitted_at, s.event_id)
        )
        return SubmissionPage(items=[_out(s) for s in found[:limit]], total=len(found))

    return router
