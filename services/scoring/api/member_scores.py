"""Members' scores (党员个人积分): a member's points in a period, and a branch's members ranked."""

from collections.abc import Collection
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from services.scoring.api.branches import BranchId, KindLine
from services.scoring.api.member_names import branch_names
from services.scoring.api.rankings import Court, Dimension, Period
from services.scoring.api.read_model import MongoReadModel
from services.scoring.api.score_view import ScoreView
from services.scoring.core.member_points import member_totals, members_points, weighted
from services.scoring.core.ranking import rank
from services.scoring.core.rulebook import DIMENSION_LABELS, DIMENSIONS, Rulebook, kind_label
from services.scoring.rulebooks import load_rulebook
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN
from shared.problems import Problem

MemberId = Annotated[str, Path(pattern=ID_PATTERN, examples=["m-001"])]


class MemberDimension(BaseModel):
    label: str
    points: float = Field(description="after the member's monthly caps, every branch and stream together")
    weight: float


class MemberBranch(BaseModel):
    branch_id: str
    court: str | None = Field(description="as the registry names it; null: an unregistered branch")
    points: dict[str, float] = Field(description="per dimension, and the weighted total")


class MemberScore(BaseModel):
    member_id: str
    period: str
    court: str | None = Field(description="only this court's branches counted; null: every branch")
    rulebook_version: str
    total: float = Field(description="the points weighted by the rulebook's weights")
    dimensions: dict[str, MemberDimension]
    kinds: list[KindLine]
    branches: list[MemberBranch]
    data_as_of: datetime | None


class MemberRow(BaseModel):
    rank: int = Field(description="competition rank (1, 2, 2, 4) by the dimension asked for")
    member_id: str
    name: str | None = Field(None, description="only for its court's admins and its branch's secretary")
    score: float = Field(description="the ranked dimension's points (or the weighted total)")
    points: dict[str, float] = Field(description="per dimension, and the weighted total")


class BranchMembers(BaseModel):
    branch_id: str
    period: str
    dimension: Dimension
    rulebook_version: str
    members: list[MemberRow]


def member_year_points(
    view: ScoreView, year: str, branches: Collection[str] | None = None, rulebook: Rulebook | None = None
) -> dict[str, dict[str, float]]:
    """member_id -> the year's points per dimension and their weighted "total", over every branch
    and stream of the member (of `branches` only, if given), as the view's generation scores them."""
    summaries = view.members.of_year(year)
    if branches is not None:
        wanted = set(branches)
        summaries = [s for s in summaries if s.branch_id in wanted]
    weights = (rulebook or view.rulebook or load_rulebook()).weights
    return members_points(summaries, year, weights)


def in_registry(request: Request, member_id: str, court: str | None) -> bool:
    """Whether the member registry (api/members.py, when mounted) knows the member (in `court`)."""
    directory = getattr(request.app.state, "members", None)
    if directory is None:
        return False
    try:
        entry = directory.place(member_id)
    except Problem:  # the registry is not followed (yet): only scores tell
        return False
    return entry is not None and (court is None or entry.court == court)


def member_scores_router() -> APIRouter:
    router = APIRouter(tags=["members"], route_class=AuthFirstRoute)

    def model(request: Request) -> MongoReadModel:
        return request.app.state.read_model  # type: ignore[no-any-return]

    @router.get(
        "/v1/members/{member_id}/score",
        response_model=MemberScore,
        summary="A member's points in a period (党员个人积分), by dimension, kind and branch",
    )
    async def member_score(
        member_id: MemberId, period: Period, request: Request, _: Reader, court: Court = None
    ) -> MemberScore:
        view = model(request).view()
        rulebook = model(request).rulebook(view)
        registry = await model(request).branches()
        summaries = view.members.of_member(member_id)
        if court is not None:  # a court-bound reader's is filled in: its court's branches only
            summaries = [s for s in summaries if (b := registry.get(s.branch_id)) and b.court == court]
        if not summaries and not in_registry(request, member_id, court):
            raise Problem(404, "Not Found", f"no scores and no registration for member {member_id}")
        totals = member_totals((s for s in summaries if s.year == period[:4]), period)
        return MemberScore(
            member_id=member_id,
            period=period,
            court=court,
            rulebook_version=rulebook.version,
            total=weighted(totals.points, rulebook.weights)["total"],
            dimensions={
                d: MemberDimension(
                    label=DIMENSION_LABELS[d], points=round(totals.points[d], 4), weight=rulebook.weights[d]
                )
                for d in DIMENSIONS
            },
            kinds=[
                KindLine(
                    kind=kind,
                    label=kind_label(kind),
                    stream=stream,
                    dimension=rulebook.kinds[kind].dimension,
                    count=t.count,
                    sessions=t.sessions,
                    hours=t.hours,
                    points=t.points,
                )
                for (stream, kind), t in sorted(totals.kinds.items())
            ],
            branches=[
                MemberBranch(
                    branch_id=b,
                    court=registered.court if (registered := registry.get(b)) else None,
                    points=weighted(p, rulebook.weights),
                )
                for b, p in sorted(totals.branches.items())
            ],
            data_as_of=totals.last_event_time,
        )

    @router.get(
        "/v1/branches/{branch_id}/members",
        response_model=BranchMembers,
        summary="A branch's members ranked by their points in a period",
    )
    async def branch_members(
        branch_id: BranchId,
        period: Period,
        request: Request,
        who: Reader,
        dimension: Annotated[Dimension, Query(description="rank by this dimension, or the total")] = "total",
    ) -> BranchMembers:
        view = model(request).view()
        rulebook = model(request).rulebook(view)
        summaries = view.members.of_branch(branch_id, period[:4])
        if not summaries and await model(request).branch(branch_id) is None:
            raise Problem(404, "Not Found", f"no scores and no registration for branch {branch_id}")
        points = members_points(summaries, period, rulebook.weights)
        ranked = rank({m: p[dimension] for m, p in points.items()})
        names = await branch_names(request, who, branch_id, int(period[:4]))
        return BranchMembers(
            branch_id=branch_id,
            period=period,
            dimension=dimension,
            rulebook_version=rulebook.version,
            members=[
                MemberRow(
                    rank=r.rank,
                    member_id=r.branch_id,
                    name=names.get(r.branch_id),
                    score=r.value,
                    points=points[r.branch_id],
                )
                for r in ranked
            ],
        )

    return router
