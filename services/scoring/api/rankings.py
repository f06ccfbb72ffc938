"""GET /v1/rankings: branches ranked by a dimension or the total, per member, for a period."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.scoring.api.read_model import MongoReadModel
from services.scoring.core.periods import PERIOD_PATTERN
from services.scoring.core.ranking import rank
from services.scoring.core.rulebook import DIMENSIONS, Rulebook
from services.scoring.core.scores import per_member
from shared.auth import Reader
from shared.contracts import ID_PATTERN

TIE_RULE = (
    "competition ranking (1, 2, 2, 4): equal scores (to 4 decimals) share a rank; "
    "ties are listed by branch id"
)
Dimension = Literal["total", "service", "trial", "people", "team"]


class RankingRow(BaseModel):
    rank: int
    branch_id: str
    name: str = Field(description="the registered name, or the id until the branch is registered")
    court: str | None
    members: int = Field(description="registered members, or members seen in events if unregistered")
    registered: bool
    score: float = Field(description="the ranked dimension, per member")
    scores: dict[str, float] = Field(description="every dimension and the total, per member")


class Ranking(BaseModel):
    period: str
    dimension: Dimension
    court: str | None
    rulebook_version: str
    tie_rule: str = TIE_RULE
    data_as_of: datetime | None = Field(description="acceptance time of the newest event in this ranking")
    total_branches: int
    rows: list[RankingRow]


def rankings_router() -> APIRouter:
    router = APIRouter(tags=["rankings"])

    @router.get("/v1/rankings", response_model=Ranking, summary="Live ranking of branches (党支部排名)")
    async def rankings(
        request: Request,
        _: Reader,
        period: Annotated[str, Query(pattern=PERIOD_PATTERN, examples=["2022-Q3"])],
        dimension: Dimension = "total",
        court: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> Ranking:
        model: MongoReadModel = request.app.state.read_model
        rulebook: Rulebook = request.app.state.rulebook
        periods, registry = await model.period(period), await model.branches()
        rows = {}
        for branch_id, p in periods.items():
            branch = registry.get(branch_id)
            if court and (branch is None or branch.court != court):
                continue
            members = branch.members if branch else len(p.active_members)
            rows[branch_id] = (branch, members, per_member(p.points, members, rulebook))
        ranked = rank({b: s[dimension] for b, (_, _, s) in rows.items()})[:limit]
        times = [p.last_event_time for p in periods.values() if p.last_event_time]
        return Ranking(
            period=period,
            dimension=dimension,
            court=court,
            rulebook_version=rulebook.version,
            data_as_of=max(times) if times else None,
            total_branches=len(rows),
            rows=[
                RankingRow(
                    rank=r.rank,
                    branch_id=r.branch_id,
                    name=branch.name if branch else r.branch_id,
                    court=branch.court if branch else None,
                    members=members,
                    registered=branch is not None,
                    score=r.value,
                    scores=scores,
                )
                for r in ranked
                for branch, members, scores in [rows[r.branch_id]]
            ],
        )

    return router


assert set(DIMENSIONS) | {"total"} == set(Dimension.__args__)  # type: ignore[attr-defined]
