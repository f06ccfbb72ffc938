"""GET /v1/rankings and its live stream: branches ranked by a dimension or the total, per member."""

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from services.scoring.api.computed import Computed, Steps, run
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.api.score_view import BranchPeriod
from services.scoring.core.periods import PERIOD_PATTERN
from services.scoring.core.ranking import rank_ordered, sort_key
from services.scoring.core.rulebook import DIMENSIONS, Rulebook
from services.scoring.core.scores import per_member
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN
from shared.problems import Problem, problem_responses

TIE_RULE = (
    "competition ranking (1, 2, 2, 4): equal scores (to 4 decimals) share a rank; "
    "ties are listed by branch id"
)
Dimension = Literal["total", "service", "trial", "people", "team"]
Period = Annotated[
    str, Query(pattern=PERIOD_PATTERN, description="2022, 2022-Q3 or 2022-08", examples=["2022-Q3"])
]
Court = Annotated[str | None, Query(pattern=ID_PATTERN, description="only this court's branches")]
IncludeUnregistered = Annotated[
    bool,
    Query(description="also count branch ids nobody registered (by default only registered branches count)"),
]
STREAM_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 15.0
STREAMS_PER_TOKEN = 8  # concurrent ranking streams one token may hold
STREAM_LIFETIME_S = 3600.0  # then the server ends the stream; the board reconnects
JSON_OPTIONS = orjson.OPT_UTC_Z


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


MAX_LIMIT = 1000  # rows one answer may ask for: only these are ever built as rows


@dataclass(frozen=True)
class FullRanking:
    """One query's ranking at one data version; any `limit` is a slice of it."""

    head: dict[str, Any]  # every field of Ranking but the rows
    rows: list[dict[str, Any]]  # the first MAX_LIMIT rows
    encoded: list[bytes] = field(repr=False)  # each row as JSON, encoded once for every reader
    values: dict[str, float] = field(repr=False)  # every ranked branch's score

    @property
    def rulebook_version(self) -> str:
        return str(self.head["rulebook_version"])

    def body(self, limit: int) -> bytes:
        head = orjson.dumps(self.head, option=JSON_OPTIONS)
        return head[:-1] + b',"rows":[' + b",".join(self.encoded[:limit]) + b"]}"


class ScoreMemo:
    """Each branch's per-member scores per (period, rulebook), with the row and members they were
    computed from: rows are replaced when their scores change, so identity is a version, and a
    ranking after some records recomputes only those branches."""

    def __init__(self, max_periods: int = 8):
        self._max = max_periods
        self._memos: OrderedDict[tuple, tuple[Rulebook, dict]] = OrderedDict()

    def of(self, period: str, rulebook: Rulebook) -> dict[str, tuple[BranchPeriod, int, dict[str, float]]]:
        key = (period, id(rulebook))  # the rulebook is kept in the entry: its id is not reused meanwhile
        if key not in self._memos:
            self._memos[key] = (rulebook, {})
            while len(self._memos) > self._max:
                self._memos.popitem(last=False)
        self._memos.move_to_end(key)
        return self._memos[key][1]


def _members(branch: Branch | None, p: BranchPeriod) -> int:
    return branch.members if branch else len(p.active_members)


def compute_ranking(*args: Any, **kwargs: Any) -> FullRanking:
    """ranking_steps, all at once."""
    return run(ranking_steps(*args, **kwargs))


def ranking_steps(
    rows: dict[str, BranchPeriod],
    registry: dict[str, Branch],
    rulebook: Rulebook,
    period: str,
    dimension: str,
    court: str | None,
    include_unregistered: bool = False,
    memo: ScoreMemo | None = None,
) -> Steps[FullRanking]:
    """The ranking as leaders see it: per-member scores, registry names, competition ranks.
    Computed in slices (see computed.py) from snapshots."""
    known = memo.of(period, rulebook) if memo else {}
    scores: dict[str, dict[str, float]] = {}
    for i, (branch_id, p) in enumerate(rows.items()):
        if i % 256 == 0:
            yield
        branch = registry.get(branch_id)
        if branch is None and not include_unregistered:
            continue
        members = _members(branch, p)
        seen = known.get(branch_id)
        if seen is None or seen[0] is not p or seen[1] != members:
            seen = known[branch_id] = (p, members, per_member(p.points, members, rulebook))
        scores[branch_id] = seen[2]
    values, keyed = {}, []
    for i, (b, s) in enumerate(scores.items()):
        if i % 1024 == 0:
            yield
        values[b] = s[dimension]
        keyed.append((*sort_key(b, values[b]), values[b]))
    yield
    keyed.sort()  # plain tuples: sorted without calling back into Python
    yield
    ranked = rank_ordered(((b, v) for _, b, v in keyed), top=MAX_LIMIT)  # only these rows are ever served
    yield
    times = [t for b in scores if (t := rows[b].last_event_time)]
    yield
    out, encoded = [], []
    for i, r in enumerate(ranked[:MAX_LIMIT]):
        if i % 128 == 0:
            yield
        branch, p = registry.get(r.branch_id), rows[r.branch_id]
        out.append(
            {
                "rank": r.rank,
                "branch_id": r.branch_id,
                "name": branch.name if branch else r.branch_id,
                "court": branch.court if branch else None,
                "members": _members(branch, p),
                "registered": branch is not None,
                "score": scores[r.branch_id][dimension],
                "scores": scores[r.branch_id],
            }
        )
        encoded.append(orjson.dumps(out[-1]))
    head = {
        "period": period,
        "dimension": dimension,
        "court": court,
        "rulebook_version": rulebook.version,
        "tie_rule": TIE_RULE,
        "data_as_of": max(times) if times else None,
        "total_branches": len(scores),
    }
    return FullRanking(head, out, encoded, values)


@dataclass(frozen=True)
class RankingQuery:
    """The query parameters the ranking and its stream share."""

    period: Period
    dimension: Dimension = "total"
    court: Court = None
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50
    include_unregistered: IncludeUnregistered = False


class RankingCache:
    """Rankings shared by every request of this process, computed off the event loop. Keyed by the
    normalised query (period, dimension, court, include_unregistered: never `limit`, which only
    slices), least-recently-used, each rebuilt only when its period's scores, the registry or the
    generation changed, and at most every `min_age_s` while scores keep moving."""

    def __init__(self, computed: Computed[FullRanking], memo: ScoreMemo | None = None):
        self._computed = computed
        self._memo = memo or ScoreMemo()

    async def full(self, model: MongoReadModel, q: RankingQuery) -> FullRanking:
        registry = await model.branches()
        members = await model.court_branches(q.court) if q.court else None
        view = model.view()  # points and rulebook from one generation, taken once
        version = model.version(q.period, view)

        def snapshot() -> Steps[FullRanking]:
            rows, rulebook = view.rows(q.period, members), model.rulebook(view)
            return ranking_steps(
                rows, registry, rulebook, q.period, q.dimension, q.court, q.include_unregistered, self._memo
            )

        key = (q.period, q.dimension, q.court, q.include_unregistered)
        return await self._computed.get(key, version, snapshot)

    async def json(self, model: MongoReadModel, q: RankingQuery) -> bytes:
        return (await self.full(model, q)).body(q.limit)


class StreamSlots:
    """Counts each token's open ranking streams (one API process)."""

    def __init__(self, per_token: int = STREAMS_PER_TOKEN):
        self.per_token = per_token
        self._open: dict[str, int] = {}

    def take(self, holder: str) -> None:
        if self._open.get(holder, 0) >= self.per_token:
            raise Problem(
                429,
                "Too Many Requests",
                f"this token already holds {self.per_token} ranking streams, the most one token may hold "
                "at once: close one first",
                headers={"Retry-After": "30"},
            )
        self._open[holder] = self._open.get(holder, 0) + 1

    def give_back(self, holder: str) -> None:
        left = self._open.get(holder, 0) - 1
        if left > 0:
            self._open[holder] = left
        else:
            self._open.pop(holder, None)


class _SlotStream(StreamingResponse):
    """A stream that gives its slot back however it ends (finished, client gone, or error)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **kwargs: Any):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _changes(request: Request, q: RankingQuery, lifetime_s: float) -> AsyncIterator[str]:
    """A snapshot, then only the rows that changed (or left the list), as Server-Sent Events;
    after `lifetime_s` an `end` event, and the stream closes (clients reconnect)."""
    sent: dict[str, dict] = {}
    first, quiet_s = True, 0.0
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + lifetime_s
    while not await request.is_disconnected():
        if loop.time() >= ends_at:
            reason = f"streams last at most {lifetime_s:g} s: reconnect for a fresh snapshot"
            yield f"event: end\ndata: {json.dumps({'reason': reason})}\n\n"
            return
        ranking = await request.app.state.rankings.full(request.app.state.read_model, q)
        now = {r["branch_id"]: r for r in ranking.rows[: q.limit]}
        changed = [row for b, row in now.items() if sent.get(b) != row]
        removed = [b for b in sent if b not in now]
        if first or changed or removed:
            as_of = ranking.head["data_as_of"]
            body = {
                "data_as_of": as_of.isoformat() if as_of else None,
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


def rankings_router() -> APIRouter:
    router = APIRouter(tags=["rankings"], route_class=AuthFirstRoute)

    @router.get("/v1/rankings", response_model=Ranking, summary="Live ranking of branches (党支部排名)")
    async def rankings(request: Request, _: Reader, q: Annotated[RankingQuery, Depends()]) -> Response:
        # The cached JSON as is: re-validating and serialising 50 rows per request would cost
        # more than everything else a cached ranking needs.
        body = await request.app.state.rankings.json(request.app.state.read_model, q)
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/rankings/stream",
        summary="Server-Sent Events: a snapshot, then the rows that change as scores move",
        description=(
            f"At most {STREAMS_PER_TOKEN} streams per token at once (more: 429); a stream lasts at "
            f"most {STREAM_LIFETIME_S:g} s, then ends with an `end` event (reconnect)."
        ),
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            **problem_responses({429: "the token holds too many ranking streams already"}),
        },
    )
    async def stream(request: Request, who: Reader, q: Annotated[RankingQuery, Depends()]) -> Response:
        slots: StreamSlots = request.app.state.stream_slots
        slots.take(who.sha256)
        return _SlotStream(
            _changes(request, q, request.app.state.stream_lifetime_s),
            lambda: slots.give_back(who.sha256),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


assert set(DIMENSIONS) | {"total"} == set(Dimension.__args__)  # type: ignore[attr-defined]
