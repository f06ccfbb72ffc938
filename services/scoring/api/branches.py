"""The branch registry (city → court → branch) and a branch's score breakdown."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, Strict

from services.scoring.api.computed import Computed, Steps
from services.scoring.api.rankings import Dimension, Period, RankingCache, RankingQuery
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.core.rulebook import DIMENSION_LABELS, DIMENSIONS, Rulebook, kind_label
from services.scoring.core.standing import BranchPeriod, merge, standing
from services.scoring.core.summary import PeriodRow
from shared.audit import audit
from shared.auth import ADMIN, Admin, AuthFirstRoute, Reader, require_court
from shared.contracts import ID_PATTERN, LINE_PATTERN, Contract
from shared.kafka import BrokerUnavailable, RecordTooLarge
from shared.problems import Problem
from shared.registry_events import Day

BranchId = Annotated[str, Path(pattern=ID_PATTERN, examples=["zy-civil-1"])]


class BranchIn(Contract):
    """A branch as the registry holds it (PUT replaces it whole)."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=LINE_PATTERN, examples=["民一庭党支部"])]
    court: Annotated[str, Field(pattern=ID_PATTERN, description="the court's id", examples=["cz-zy"])]
    court_name: Annotated[
        str | None, Field(max_length=100, pattern=LINE_PATTERN, examples=["沧州市中级人民法院"])
    ] = None
    members: Annotated[
        int, Strict(), Field(ge=1, le=10_000, description="Party members (党员) in the branch")
    ]


class BranchPut(BranchIn):
    """A branch to register, and from when: a change applies from `effective` on, never backwards."""

    effective: Day | None = Field(
        default=None,
        description="the first day these fields hold (Asia/Shanghai); absent: for every period, as before",
        examples=["2024-07-01"],
    )


class BranchOut(BranchIn):
    branch_id: str


class UnregisteredOut(BaseModel):
    """A branch id with scores that nobody registered: register it (PUT) or void its records."""

    branch_id: str
    registered: bool = False
    years: list[str]
    streams: list[str]
    last_event_time: datetime | None


class CourtNode(BaseModel):
    court: str
    court_name: str | None
    branches: list[BranchOut]


class CityTree(BaseModel):
    city: str
    courts: list[CourtNode]


class KindLine(BaseModel):
    kind: str
    label: str
    stream: str
    dimension: str
    count: int = Field(description="records counted; for meetings and training, attendances")
    sessions: int = Field(description="meetings and training: the sessions held; 0 for other kinds")
    hours: float
    points: float = Field(description="before monthly caps")


class DimensionLine(BaseModel):
    label: str
    points: float = Field(description="after monthly caps, whole branch")
    per_member: float
    weight: float


class Place(BaseModel):
    rank: int | None = Field(description="competition rank, as /v1/rankings shows it; null: not ranked")
    of: int = Field(description="branches ranked (registered branches with records in the period)")


class OwnRank(BaseModel):
    """Where the branch stands among registered branches, as the rankings rank them."""

    dimension: Dimension
    score: float | None = Field(description="the ranked dimension, per member")
    ranking_version: str = Field(description="the city ranking's version this rank was read from")
    court: Place
    city: Place


class Breakdown(BaseModel):
    branch_id: str
    name: str
    court: str | None
    registered: bool
    members: int
    period: str
    rulebook_version: str
    total: float
    dimensions: dict[str, DimensionLine]
    kinds: list[KindLine]
    caps_hit: list[dict]
    data_as_of: datetime | None
    rank: OwnRank | None = Field(description="in its court and the city; null for an unregistered branch")


def _out(b: Branch) -> BranchOut:
    return BranchOut(
        branch_id=b.branch_id, name=b.name, court=b.court, court_name=b.court_name, members=b.members
    )


def branches_router(city: str) -> APIRouter:
    router = APIRouter(tags=["branches"], route_class=AuthFirstRoute)

    def model(request: Request) -> MongoReadModel:
        return request.app.state.read_model

    @router.put(
        "/v1/branches/{branch_id}", response_model=BranchOut, summary="Register or update a branch (admin)"
    )
    async def put_branch(branch_id: BranchId, body: BranchPut, request: Request, who: Admin) -> BranchOut:
        require_court(who, body.court)  # a court's admin registers into its own court only
        branch = Branch(branch_id, body.name, body.court, body.court_name, body.members)
        await audit(request, who, "branch.put", branch_id, body.court, branch_id)  # before the change
        await registry_write(model(request).put_branch(branch, body.effective))
        return _out(branch)

    @router.get(
        "/v1/branches",
        response_model=list[BranchOut] | list[UnregisteredOut],
        summary="Registered branches; registered=false (admin): unregistered ids with scores",
    )
    async def list_branches(
        request: Request,
        _: Reader,
        registered: Annotated[
            bool, Query(description="false: the unregistered branch ids that have scores (admin only)")
        ] = True,
    ) -> Any:
        registry = await model(request).branches()
        if registered:  # 10,000 branches: built in slices, once per registry version
            body = await registry_json(request, "branches", lambda: _branches_steps(registry))
            return Response(body, media_type="application/json")
        request.app.state.authenticator.authorize(request.headers.get("authorization"), ADMIN)
        return [
            UnregisteredOut(
                branch_id=u.branch_id, years=u.years, streams=u.streams, last_event_time=u.last_event_time
            )
            for u in model(request).unregistered(registry)
        ]

    @router.get("/v1/courts", response_model=CityTree, summary="The tree city → court → branch")
    async def courts(request: Request, _: Reader) -> Response:
        registry = await model(request).branches()
        body = await registry_json(request, "courts", lambda: _tree_steps(city, registry))
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/branches/{branch_id}/score", response_model=Breakdown, summary="Why a branch scores what it does"
    )
    async def breakdown(
        branch_id: BranchId,
        period: Period,
        request: Request,
        _: Reader,
        dimension: Annotated[Dimension, Query(description="the dimension `rank` ranks by")] = "total",
    ) -> Breakdown:
        view = model(request).view()  # points and rulebook of one generation
        rulebook = model(request).rulebook(view)
        docs = view.period_docs([period], branch_id)
        branch = await model(request).branch(branch_id, period)
        if not docs and branch is None:
            raise Problem(404, "Not Found", f"no scores and no registration for branch {branch_id}")
        out = _breakdown(branch_id, branch, period, docs, rulebook)
        if branch is not None:
            out.rank = await own_rank(request, branch, period, dimension)
        return out

    return router


async def own_rank(request: Request, branch: Branch, period: str, dimension: str) -> OwnRank:
    """The branch's places in the court and city rankings (the very rankings /v1/rankings pages)."""
    rankings: RankingCache = request.app.state.rankings
    queries = (RankingQuery(period, dimension, c, 1) for c in (None, branch.court))  # type: ignore[arg-type]
    city, court = [await rankings.full(model_of(request), q) for q in queries]
    return OwnRank(
        dimension=dimension,  # type: ignore[arg-type]
        score=city.value(branch.branch_id),
        ranking_version=city.version,
        court=Place(rank=court.place(branch.branch_id), of=len(court.order)),
        city=Place(rank=city.place(branch.branch_id), of=len(city.order)),
    )


async def registry_write(change: Awaitable[None]) -> None:
    """Make a registry change: 503 with Retry-After when the registry topic does not take it."""
    try:
        await change
    except (BrokerUnavailable, RecordTooLarge, TimeoutError):
        raise Problem(
            503,
            "Service Unavailable",
            "the registry topic did not take the change",
            headers={"Retry-After": "2"},
        ) from None


def model_of(request: Request) -> MongoReadModel:
    return request.app.state.read_model  # type: ignore[no-any-return]


async def registry_json(request: Request, key: str, steps: Callable[[], Steps[bytes]]) -> bytes:
    """A registry answer, computed in slices once per registry version and shared."""
    computed: Computed[bytes] = request.app.state.computed_registry
    return await computed.get(key, request.app.state.read_model.registry_version, steps)


def _branch_json(b: Branch) -> dict[str, Any]:
    return {
        "branch_id": b.branch_id,
        "name": b.name,
        "court": b.court,
        "court_name": b.court_name,
        "members": b.members,
    }


def _branches_steps(registry: dict[str, Branch]) -> Steps[bytes]:
    ids = sorted(registry)
    yield
    rows = []
    for i, branch_id in enumerate(ids):
        if i % 512 == 0:
            yield
        rows.append(orjson.dumps(_branch_json(registry[branch_id])))
    return b"[" + b",".join(rows) + b"]"


def _tree_steps(city: str, registry: dict[str, Branch]) -> Steps[bytes]:
    ordered = sorted(registry.values(), key=lambda b: (b.court, b.branch_id))
    yield
    nodes: dict[str, dict[str, Any]] = {}
    for i, b in enumerate(ordered):
        if i % 512 == 0:
            yield
        node = nodes.setdefault(b.court, {"court": b.court, "court_name": b.court_name, "branches": []})
        node["branches"].append(_branch_json(b))
    yield
    return orjson.dumps({"city": city, "courts": list(nodes.values())})


def _breakdown(
    branch_id: str, branch: Branch | None, period: str, docs: list[PeriodRow], rulebook: Rulebook
) -> Breakdown:
    parts = ((d.score.points, d.score.members, d.last_event_time) for d in docs)
    row = merge(branch_id, parts) or BranchPeriod(branch_id)
    mine = standing(row, branch.members if branch else None, rulebook)
    kinds = [
        KindLine(
            kind=kind,
            label=kind_label(kind),
            stream=doc.stream,
            dimension=rulebook.kinds[kind].dimension,
            count=t.count,
            sessions=t.sessions,
            hours=t.hours,
            points=t.points,
        )
        for doc in docs
        for kind, t in sorted(doc.score.kinds.items())
    ]
    return Breakdown(
        branch_id=branch_id,
        name=branch.name if branch else branch_id,
        court=branch.court if branch else None,
        registered=mine.registered,
        members=mine.members,
        period=period,
        rulebook_version=rulebook.version,
        total=mine.scores["total"],
        dimensions={
            d: DimensionLine(
                label=DIMENSION_LABELS[d],
                points=round(mine.points[d], 4),
                per_member=mine.scores[d],
                weight=rulebook.weights[d],
            )
            for d in DIMENSIONS
        },
        kinds=kinds,
        caps_hit=[msgspec.to_builtins(c) for doc in docs for c in doc.score.caps_hit],
        data_as_of=mine.last_event_time,
        rank=None,
    )
