"""Closing the year (考核结果公示 and 申诉): POST/GET /v1/finalisations, one version and its diff,
POST/GET /v1/appeals and POST /v1/appeals/{id}:decide. Every change is an event on the
finalisation topic (the truth, folded by finalisation_log), audited before it is written."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Security

from services.scoring.api.finalisation_content import live_sections
from services.scoring.api.finalisation_log import FinalisationLog, NotReadBack, Outcome, new_event_id
from services.scoring.api.finalisation_models import (
    COURT,
    YEAR,
    AppealIn,
    AppealOut,
    DecisionIn,
    DiffOut,
    Finalisations,
    FinaliseIn,
    Frozen,
    Live,
    VersionOut,
    appeal_out,
    frozen_fields,
)
from services.scoring.core import finalisation as rules
from services.scoring.core.finalisation import AppealDecided, AppealFiled, CourtYear, Finalised
from shared.audit import actor_of, audit
from shared.auth import (
    ADMIN,
    READ_RANKINGS,
    AuthFirstRoute,
    Reader,
    branch_court,
    require_court,
    scope_check,
)
from shared.kafka import BrokerUnavailable, KafkaPublisher, RecordTooLarge
from shared.principal import WRITE_EVENTS, Principal
from shared.problems import Problem, problem_responses
from shared.settings import KafkaSettings

SOURCE = "scoring-api"
YearQ = Annotated[str, Query(pattern=YEAR, examples=["2024"])]
CourtQ = Annotated[str, Query(pattern=COURT, examples=["cz-zy"], description="a court's reader: its own")]
# Routes naming the court in their path or body check it themselves (require_court).
CourtReader = Annotated[Principal, Security(scope_check(READ_RANKINGS, org="body"), scopes=[READ_RANKINGS])]
CourtAdmin = Annotated[Principal, Security(scope_check(ADMIN, org="body"), scopes=[ADMIN])]
Appellant = Annotated[Principal, Security(scope_check(WRITE_EVENTS, org="body"), scopes=[WRITE_EVENTS])]


def finalisation_router(kafka: KafkaSettings) -> APIRouter:
    """The routes, and (for the app's lifetime) the topic's follower and its publisher."""
    log = FinalisationLog(kafka)
    publisher = KafkaPublisher(kafka, client_id="scoring-api-finalisations")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.finalisations = log
        task = asyncio.create_task(log.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await publisher.stop()

    router = APIRouter(tags=["closing the year"], route_class=AuthFirstRoute, lifespan=lifespan)
    refusals = {409: "the change is not possible now: the detail says why", 503: "the topic is being read"}

    def ready() -> None:
        if not log.caught_up:
            raise Problem(
                503, "Service Unavailable", "still reading the finalisations", headers={"Retry-After": "2"}
            )

    def state(court: str, year: str) -> CourtYear:
        ready()
        return log.state(court, year)

    async def write(event: rules.Event) -> Outcome:
        try:
            outcome = await log.write(publisher, event, SOURCE)
        except BrokerUnavailable:  # audited as an attempt: nothing was written
            detail = "Kafka did not take the event: nothing changed, retry after Retry-After seconds"
            raise Problem(503, "Service Unavailable", detail, headers={"Retry-After": "2"}) from None
        except RecordTooLarge:  # a court's year over the broker's message size: nothing is frozen
            raise Problem(503, "Service Unavailable", "the version is over Kafka's message size") from None
        except NotReadBack as err:
            raise Problem(
                503, "Service Unavailable", f"{err}: read it again", headers={"Retry-After": "2"}
            ) from None
        if outcome.refused is not None:
            raise Problem(409, "Conflict", outcome.refused)
        return outcome

    @router.post(
        "/v1/finalisations",
        response_model=VersionOut,
        status_code=201,
        summary="Finalise a court's year (考核结果公示): freeze it as its next version (admin of the court)",
        responses=problem_responses(refusals),
    )
    async def finalise(body: FinaliseIn, request: Request, who: CourtAdmin) -> VersionOut:
        require_court(who, body.court)
        current = state(body.court, body.year)
        sections, rulebook_version = await live_sections(request, body.court, body.year, fresh=True)
        if not any(sections.values()):
            raise Problem(409, "Conflict", f"court {body.court} has nothing to freeze in {body.year}")
        latest = current.latest
        if latest is not None and rules.unchanged(latest.sections, sections):
            raise Problem(409, "Conflict", f"nothing changed since version {latest.version}")
        now = request.app.state.clock()
        rulebook = request.app.state.read_model.rulebook(request.app.state.read_model.view())
        event = Finalised(
            new_event_id(), body.court, body.year, rules.next_version(current), now, actor_of(who),
            rulebook_version, rules.appeals_until(now, rulebook.finalisation.appeal_days), sections,
        )  # fmt: skip
        await audit(request, who, "finalisation.create", f"{body.court}:{body.year}", court=body.court)
        outcome = await write(event)
        return _version(outcome.state, event.version, body.court, body.year)

    @router.get(
        "/v1/finalisations",
        response_model=Finalisations,
        summary="A court's finalised versions of a year (frozen) beside today's computation (live)",
        responses=problem_responses({503: refusals[503]}),
    )
    async def finalisations(
        request: Request, _: Reader, year: YearQ, court: CourtQ, live: bool = True
    ) -> Finalisations:
        current, now = state(court, year), request.app.state.clock()
        versions = [Frozen(**frozen_fields(v)) for v in current.versions]
        now_live = None
        if live:
            sections, rulebook_version = await live_sections(request, court, year)
            latest = current.latest
            changes = rules.diff(latest.sections, sections) if latest else None
            now_live = Live(
                as_of=now, rulebook_version=rulebook_version, sections=list(sections),
                content=sections, changes_since_latest=changes,
            )  # fmt: skip
        window = rules.why_not_appealable(current, now) is None
        return Finalisations(
            court=court, year=year, versions=versions, appeal_window_open=window, live=now_live
        )

    def _version(current: CourtYear, version: int, court: str, year: str) -> VersionOut:
        if not 1 <= version <= len(current.versions):
            raise Problem(404, "Not Found", f"court {court} has no version {version} of {year}")
        v = current.versions[version - 1]
        changes = rules.diff(current.versions[version - 2].sections, v.sections) if version > 1 else None
        return VersionOut(court=court, year=year, changes_from_previous=changes, **frozen_fields(v))

    Version = Annotated[int, Path(ge=1, le=100_000)]
    CourtP = Annotated[str, Path(pattern=COURT, examples=["cz-zy"])]
    YearP = Annotated[str, Path(pattern=YEAR, examples=["2024"])]

    @router.get(
        "/v1/finalisations/{court}/{year}/{version}",
        response_model=VersionOut,
        summary="One finalised version, with its changes from the previous one",
        responses=problem_responses({404: "no such version", 503: refusals[503]}),
    )
    async def one_version(court: CourtP, year: YearP, version: Version, who: CourtReader) -> VersionOut:
        require_court(who, court)
        return _version(state(court, year), version, court, year)

    @router.get(
        "/v1/finalisations/{court}/{year}/{version}/diff",
        response_model=DiffOut,
        summary="What changed between two finalised versions (default: the previous one)",
        responses=problem_responses({404: "no such version", 503: refusals[503]}),
    )
    async def version_diff(
        court: CourtP,
        year: YearP,
        version: Version,
        who: CourtReader,
        against: Annotated[int | None, Query(ge=1, le=100_000, description="default: version - 1")] = None,
    ) -> DiffOut:
        require_court(who, court)
        current = state(court, year)
        other = against if against is not None else version - 1
        for n in (version, other):
            if not 1 <= n <= len(current.versions):
                raise Problem(404, "Not Found", f"court {court} has no version {n} of {year}")
        changes = rules.diff(current.versions[other - 1].sections, current.versions[version - 1].sections)
        return DiffOut(court=court, year=year, version=version, against=other, changes=changes)

    @router.post(
        "/v1/appeals",
        response_model=AppealOut,
        status_code=201,
        summary="Appeal a finalised year (申诉): a member for themself, a secretary for the branch, an admin",
        responses=problem_responses(
            {**refusals, 422: "the body is invalid, or the branch is not the court's"}
        ),
    )
    async def fileappeal_out(body: AppealIn, request: Request, who: Appellant) -> AppealOut:
        branch = body.target.branch_id
        await _mayappeal_out(request, who, body)
        current = state(body.court, body.year)
        now = request.app.state.clock()
        if (why := rules.why_not_appealable(current, now)) is not None:
            raise Problem(409, "Conflict", why)
        assert current.latest is not None
        kind: Literal["member", "branch"] = "branch" if branch else "member"
        event = AppealFiled(
            new_event_id(), f"ap-{new_event_id()[:20]}", body.court, body.year, current.latest.version, now,
            actor_of(who), kind, branch or body.target.member_id or "", body.reason,
        )  # fmt: skip
        await audit(request, who, "appeal.file", event.appeal_id, court=body.court, branch=branch)
        outcome = await write(event)
        return appeal_out(outcome.state.appeals[event.appeal_id], ADMIN in who.scopes)

    @router.post(
        "/v1/appeals/{appeal_id}:decide",
        response_model=AppealOut,
        summary="Decide an appeal: upheld or dismissed, with a reason (admin of the court)",
        responses=problem_responses({**refusals, 404: "no such appeal"}),
    )
    async def decide(
        appeal_id: Annotated[str, Path(pattern=r"^ap-[0-9a-f]{20}$", examples=["ap-0123456789abcdef0123"])],
        body: DecisionIn,
        request: Request,
        who: CourtAdmin,
    ) -> AppealOut:
        ready()
        where = log.appeal_court_year(appeal_id)
        if where is None:
            raise Problem(404, "Not Found", f"no appeal {appeal_id}")
        court, year = where
        require_court(who, court)
        if (why := rules.why_undecidable(state(court, year), appeal_id)) is not None:
            raise Problem(409, "Conflict", why)
        now = request.app.state.clock()
        event = AppealDecided(
            new_event_id(), appeal_id, court, year, now, actor_of(who), body.decision, body.reason
        )
        await audit(request, who, "appeal.decide", appeal_id, court=court)
        outcome = await write(event)
        return appeal_out(outcome.state.appeals[appeal_id], True)

    @router.get(
        "/v1/appeals",
        response_model=list[AppealOut],
        summary="A court's appeals of a year, oldest first (reasons: admins only)",
        responses=problem_responses({503: refusals[503]}),
    )
    async def appeals(who: Reader, year: YearQ, court: CourtQ) -> list[AppealOut]:
        current = state(court, year)
        ordered = sorted(current.appeals.values(), key=lambda a: (a.filed.time, a.filed.appeal_id))
        return [appeal_out(a, ADMIN in who.scopes) for a in ordered]

    return router


async def _mayappeal_out(request: Request, who: Principal, body: AppealIn) -> None:
    """403 unless the caller may appeal for the target: an admin of the court, the member
    themself, or the secretary of the branch; 422 for a branch of another court."""
    target = body.target
    if ADMIN in who.scopes:
        require_court(who, body.court)
    elif who.role == "member" and who.court == body.court and target.member_id == who.subject:
        pass
    elif who.role == "secretary" and who.court == body.court and target.branch_id == who.branch:
        pass
    else:
        raise Problem(
            403,
            "Forbidden",
            "a member appeals for themself, a secretary for their branch, an admin for the court",
        )
    if target.branch_id is not None and await branch_court(request, target.branch_id) != body.court:
        raise Problem(
            422, "Unprocessable Content", f"branch {target.branch_id} is not registered in court {body.court}"
        )
