"""GET /v1/rankings and its live stream: branches ranked by a dimension or the total, per member."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.api.score_view import BranchPeriod
from services.scoring.core.periods import PERIOD_PATTERN
from services.scoring.core.ranking import rank
from services.scoring.core.rulebook import DIMENSIONS, Rulebook
from services.scoring.core.scores import per_member
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN

TIE_RULE = (
    "competition ranking (1, 2, 2, 4): equal scores (to 4 decimals) share a rank; "
    "ties are listed by branch id"
)
Dimension = Literal["total", "service", "trial", "people", "team"]
Period = Annotated[
    str, Query(pattern=PERIOD_PATTERN, description="2022, 2022-Q3 or 2022-08", examples=["2022-Q3"])
]
Court = Annotated[str | None, Query(pattern=ID_PATTERN, description="only this court's branches")]
STREAM_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 15.0


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


async def build_ranking(
    model: MongoReadModel,
    rulebook: Rulebook,
    period: str,
    dimension: Dimension,
    court: str | None,
    limit: int,
) -> Ranking:
    """The ranking as leaders see it: per-member scores, registry names, competition ranks."""
    periods, registry = await model.period(period), await model.branches()
    # A court's ranking looks only at its own branches (a few among thousands).
    candidates = await model.court_branches(court) if court else periods.keys()
    scores: dict[str, dict[str, float]] = {}
    for branch_id in candidates:
        if (p := periods.get(branch_id)) is not None:
            scores[branch_id] = per_member(p.points, _members(registry.get(branch_id), p), rulebook)
    ranked = rank({b: s[dimension] for b, s in scores.items()})[:limit]
    times = [t for b in scores if (t := periods[b].last_event_time)]
    return Ranking(
        period=period,
        dimension=dimension,
        court=court,
        rulebook_version=rulebook.version,
        data_as_of=max(times) if times else None,
        total_branches=len(scores),
        rows=[
            _row(
                r.rank,
                r.branch_id,
                registry.get(r.branch_id),
                periods[r.branch_id],
                scores[r.branch_id],
                dimension,
            )
            for r in ranked
        ],
    )


def _members(branch: Branch | None, p: BranchPeriod) -> int:
    return branch.members if branch else len(p.active_members)


def _row(
    rank_: int,
    branch_id: str,
    branch: Branch | None,
    p: BranchPeriod,
    scores: dict[str, float],
    dimension: str,
) -> RankingRow:
    return RankingRow(
        rank=rank_,
        branch_id=branch_id,
        name=branch.name if branch else branch_id,
        court=branch.court if branch else None,
        members=_members(branch, p),
        registered=branch is not None,
        score=scores[dimension],
        scores=scores,
    )


@dataclass(frozen=True)
class _Cached:
    version: tuple
    built_at: float
    ranking: Ranking
    body: bytes  # the ranking as JSON, serialised once for every reader of it


class RankingCache:
    """Rankings shared by every request of this process: one is rebuilt only when its period's
    scores or the registry changed, and at most every `min_age_s` while scores keep moving
    (10,000 branches take tens of milliseconds to rank; a hundred readers must not each pay)."""

    def __init__(self, min_age_s: float = 0.1, max_entries: int = 256):
        self._min_age_s, self._max_entries = min_age_s, max_entries
        self._entries: dict[tuple, _Cached] = {}

    async def get(self, model: MongoReadModel, rulebook: Rulebook, q: "RankingQuery") -> Ranking:
        return (await self._get(model, rulebook, q)).ranking

    async def json(self, model: MongoReadModel, rulebook: Rulebook, q: "RankingQuery") -> bytes:
        return (await self._get(model, rulebook, q)).body

    async def _get(self, model: MongoReadModel, rulebook: Rulebook, q: "RankingQuery") -> _Cached:
        key = (q.period, q.dimension, q.court, q.limit)
        version, now = model.version(q.period), time.monotonic()
        hit = self._entries.get(key)
        if hit and (hit.version == version or now - hit.built_at < self._min_age_s):
            return hit
        ranking = await build_ranking(model, rulebook, q.period, q.dimension, q.court, q.limit)
        if len(self._entries) >= self._max_entries:  # any valid query may be asked: bound it
            self._entries.pop(next(iter(self._entries)))
        entry = self._entries[key] = _Cached(version, now, ranking, ranking.model_dump_json().encode())
        return entry


async def _changes(
    request: Request, period: str, dimension: Dimension, court: str | None, limit: int
) -> AsyncIterator[str]:
    """A snapshot, then only the rows that changed (or left the list), as Server-Sent Events."""
    sent: dict[str, dict] = {}
    first, quiet_s = True, 0.0
    while not await request.is_disconnected():
        ranking = await request.app.state.rankings.get(
            request.app.state.read_model,
            request.app.state.rulebook,
            RankingQuery(period, dimension, court, limit),
        )
        now = {r.branch_id: r.model_dump() for r in ranking.rows}
        changed = [row for b, row in now.items() if sent.get(b) != row]
        removed = [b for b in sent if b not in now]
        if first or changed or removed:
            body = {
                "data_as_of": ranking.data_as_of.isoformat() if ranking.data_as_of else None,
                "rulebook_version": ranking.rulebook_version,
                "rows": changed,
                "removed": removed,
            }
            data = json.dumps(body, ensure_ascii=False)
            yield f"event: {'snapshot' if first else 'rows'}\ndata: {data}\n\n"
            sent, first, quiet_s = now, False, 0.0
        elif quiet_s >= HEARTBEAT_EVERY_S:  # keeps proxies from closing an idle stream
            yield ": heartbeat\n\n"
            quiet_s = 0.0
        await asyncio.sleep(STREAM_EVERY_S)
        quiet_s += STREAM_EVERY_S


@dataclass(frozen=True)
class RankingQuery:
    """The query parameters the ranking and its stream share."""

    period: Period
    dimension: Dimension = "total"
    court: Court = None
    limit: Annotated[int, Query(ge=1, le=1000)] = 50


def rankings_router() -> APIRouter:
    router = APIRouter(tags=["rankings"], route_class=AuthFirstRoute)

    @router.get("/v1/rankings", response_model=Ranking, summary="Live ranking of branches (党支部排名)")
    async def rankings(request: Request, _: Reader, q: Annotated[RankingQuery, Depends()]) -> Response:
        # The cached JSON as is: re-validating and serialising 50 rows per request would cost
        # more than everything else a cached ranking needs.
        body = await request.app.state.rankings.json(
            request.app.state.read_model, request.app.state.rulebook, q
        )
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/rankings/stream",
        summary="Server-Sent Events: a snapshot, then the rows that change as scores move",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(request: Request, _: Reader, q: Annotated[RankingQuery, Depends()]) -> StreamingResponse:
        return StreamingResponse(
            _changes(request, q.period, q.dimension, q.court, q.limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


assert set(DIMENSIONS) | {"total"} == set(Dimension.__args__)  # type: ignore[attr-defined]
