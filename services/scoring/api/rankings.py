"""GET /v1/rankings and its live stream: branches ranked by a dimension or the total, per member."""

import asyncio
import base64
import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from services.scoring.api.computed import Computed, Steps, run, sliced
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.core.periods import PERIOD_PATTERN
from services.scoring.core.ranking import rank_at, rank_of, rank_ordered, sort_key
from services.scoring.core.rulebook import DIMENSIONS, Rulebook
from services.scoring.core.standing import BranchPeriod, Standing, standing
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN
from shared.problems import PROBLEM_JSON, Problem, problem_responses

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


class RankingRow(BaseModel):  # a row as _row builds it
    rank: int
    branch_id: str
    name: str = Field(description="the registered name, or the id until the branch is registered")
    court: str | None
    members: int = Field(
        description="registered members; until registered, members seen in the period's records (at least 1)"
    )
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
    version: str = Field(description="the ranking's version: a digest of its query, rulebook and rows")
    offset: int = Field(description="the position of the first row of this page (0 for the first page)")
    next: str | None = Field(description="the next page's address (a cursor pinned to this version), if any")
    rows: list[RankingRow]


MAX_LIMIT = 1000  # rows one answer may hold; later rows are paged with a cursor
VERSIONS_KEPT = 8  # rankings a cursor may still page through, per API process, most recently used
ROWS_KEPT = 40_000  # and at most this many rows of them (4 versions of a 10,000-branch city, ~20 MB)


@dataclass(frozen=True)
class FullRanking:
    """One query's ranking at one data version: every ranked branch in order; any page is a slice."""

    head: dict[str, Any]  # every field of Ranking but the rows, the offset and the next link
    rows: list[dict[str, Any]]  # the first MAX_LIMIT rows
    encoded: list[bytes] = field(repr=False)  # each of those rows as JSON, encoded once for every reader
    order: list[str] = field(repr=False)  # every ranked branch, in ranking order
    keys: list[float] = field(repr=False)  # each one's rounded sort key, ascending: ranks by bisection
    standings: dict[str, Standing] = field(repr=False)  # every ranked branch's standing
    registry: dict[str, Branch] = field(repr=False)  # the registry it was ranked with
    query: tuple[str, str, str | None, bool] = ("", "total", None, False)  # RankingQuery.key

    @property
    def rulebook_version(self) -> str:
        return str(self.head["rulebook_version"])

    @property
    def version(self) -> str:
        """What a cursor pins: a digest of the query, the rulebook and every row's order, scores
        and members, the same in every API process that holds the same ranking."""
        return str(self.head["version"])

    @cached_property
    def values(self) -> dict[str, float]:
        """Every ranked branch's score."""
        dimension = self.head["dimension"]
        return {b: s.scores[dimension] for b, s in self.standings.items()}

    def value(self, branch_id: str) -> float | None:
        """The ranked score of a branch, None if it is not ranked."""
        s = self.standings.get(branch_id)
        return None if s is None else s.scores[self.head["dimension"]]

    def place(self, branch_id: str) -> int | None:
        """A branch's competition rank, as a page of this ranking shows it; None if not ranked."""
        value = self.value(branch_id)
        return None if value is None else rank_of(self.keys, value)

    def page(self, offset: int, limit: int) -> list[bytes]:
        """Rows `offset` to `offset + limit` as JSON (those past the first MAX_LIMIT built now)."""
        return run(self.page_steps(offset, limit))

    def page_steps(self, offset: int, limit: int) -> Steps[list[bytes]]:
        """`page` in slices: a page past the first MAX_LIMIT rows is built when asked for."""
        end = min(offset + limit, len(self.order))
        rows = self.encoded[offset:end]
        for i in range(max(offset, len(self.encoded)), end):
            if i % 128 == 0:
                yield
            rows.append(orjson.dumps(self._row(i)))
        return rows

    def _row(self, i: int) -> dict[str, Any]:
        branch_id = self.order[i]
        return _row(rank_at(self.keys, i), self.registry.get(branch_id), self.standings[branch_id], self.head)

    def body(self, limit: int, offset: int = 0, next_link: str | None = None) -> bytes:
        return run(self.body_steps(limit, offset, next_link))

    def body_steps(self, limit: int, offset: int = 0, next_link: str | None = None) -> Steps[bytes]:
        rows = yield from self.page_steps(offset, limit)
        head = orjson.dumps({**self.head, "offset": offset, "next": next_link}, option=JSON_OPTIONS)
        return head[:-1] + b',"rows":[' + b",".join(rows) + b"]}"


def _row(rank: int, branch: Branch | None, s: Standing, head: dict[str, Any]) -> dict[str, Any]:
    return {
        "rank": rank,
        "branch_id": s.branch_id,
        "name": branch.name if branch else s.branch_id,
        "court": branch.court if branch else None,
        "members": s.members,
        "registered": s.registered,
        "score": s.scores[head["dimension"]],
        "scores": s.scores,
    }


_MadeRow = tuple[int, "Branch | None", Standing, dict, bytes]  # rank, registry entry, standing, row, JSON


class ScoreMemo:
    """Each branch's standing per (period, rulebook), with the row and registered members it was
    computed from: rows are replaced when their scores change, so identity is a version, and a
    ranking after some records recomputes only those branches."""

    def __init__(self, max_periods: int = 8, max_rankings: int = 16):
        self._max, self._max_rankings = max_periods, max_rankings
        self._memos: OrderedDict[tuple, tuple[Rulebook, dict]] = OrderedDict()
        self._rows: OrderedDict[tuple, tuple[Rulebook, dict]] = OrderedDict()

    def rows(
        self, rulebook: Rulebook, query: tuple
    ) -> dict[str, tuple[int, Branch | None, Standing, dict, bytes]]:
        """The encoded rows of one query's last ranking, by branch, with the rank, registry entry
        and standing each was made from: a ranking after some records encodes only rows that moved
        or changed (most of a live ranking's rows are the same as 100 ms before)."""
        key = (*query, id(rulebook))
        if key not in self._rows:
            self._rows[key] = (rulebook, {})
            while len(self._rows) > self._max_rankings:
                self._rows.popitem(last=False)
        self._rows.move_to_end(key)
        return self._rows[key][1]

    def of(self, period: str, rulebook: Rulebook) -> dict[str, tuple[BranchPeriod, int | None, Standing]]:
        key = (period, id(rulebook))  # the rulebook is kept in the entry: its id is not reused meanwhile
        if key not in self._memos:
            self._memos[key] = (rulebook, {})
            while len(self._memos) > self._max:
                self._memos.popitem(last=False)
        self._memos.move_to_end(key)
        return self._memos[key][1]


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
    standings: dict[str, Standing] = {}
    for i, (branch_id, p) in enumerate(rows.items()):
        if i % 256 == 0:
            yield
        branch = registry.get(branch_id)
        if branch is None and not include_unregistered:
            continue
        registered = branch.members if branch else None
        seen = known.get(branch_id)
        if seen is None or seen[0] is not p or seen[1] != registered:
            seen = known[branch_id] = (p, registered, standing(p, registered, rulebook))
        standings[branch_id] = seen[2]
    keyed = []
    for i, (b, s) in enumerate(standings.items()):
        if i % 1024 == 0:
            yield
        value = s.scores[dimension]
        keyed.append((*sort_key(b, value), value, s.members, s.scores))  # never compared past b
    yield
    keyed.sort()  # plain tuples: sorted without calling back into Python (branch ids are unique)
    yield
    digest = hashlib.blake2b(
        orjson.dumps([period, dimension, court, include_unregistered, rulebook.version]), digest_size=16
    )
    for start in range(0, len(keyed), 2048):  # in C: orjson and the hash, a chunk per slice
        digest.update(orjson.dumps(keyed[start : start + 2048]))
        yield
    order, keys = [k[1] for k in keyed], [k[0] for k in keyed]
    yield
    times = [t for s in standings.values() if (t := s.last_event_time)]
    yield
    head = {
        "period": period,
        "dimension": dimension,
        "court": court,
        "rulebook_version": rulebook.version,
        "tie_rule": TIE_RULE,
        "data_as_of": max(times) if times else None,
        "total_branches": len(standings),
        "version": digest.hexdigest(),
    }
    ranked = rank_ordered(((k[1], k[2]) for k in keyed), top=MAX_LIMIT)
    yield
    query = (period, dimension, court, include_unregistered)
    made = memo.rows(rulebook, query) if memo else {}
    out, encoded = [], []
    for i, r in enumerate(ranked[:MAX_LIMIT]):
        if i % 128 == 0:
            yield
        branch, s = registry.get(r.branch_id), standings[r.branch_id]
        hit = made.get(r.branch_id)
        if hit is None or hit[0] != r.rank or hit[1] is not branch or hit[2] is not s:
            row = _row(r.rank, branch, s, head)
            hit = made[r.branch_id] = (r.rank, branch, s, row, orjson.dumps(row))
        out.append(hit[3])
        encoded.append(hit[4])
    return FullRanking(head, out, encoded, order, keys, standings, registry, query)


@dataclass(frozen=True)
class RankingQuery:
    """The query parameters the ranking and its stream share."""

    period: Period
    dimension: Dimension = "total"
    court: Court = None
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50
    include_unregistered: IncludeUnregistered = False
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="from the `next` link: the following rows of the ranking the first page was cut from",
        ),
    ] = None

    @property
    def key(self) -> tuple[str, str, str | None, bool]:
        """What a ranking is computed for (never `limit` or `cursor`, which only slice it)."""
        return (self.period, self.dimension, self.court, self.include_unregistered)

    def link(self, cursor: str | None = None) -> str:
        """This query's address (a page of it with `cursor`, else its first page)."""
        params: dict[str, Any] = {"period": self.period, "dimension": self.dimension}
        if self.court:
            params["court"] = self.court
        if self.include_unregistered:
            params["include_unregistered"] = "true"
        params["limit"] = self.limit
        if cursor:
            params["cursor"] = cursor
        return "/v1/rankings?" + urlencode(params)


def encode_cursor(version: str, offset: int) -> str:
    """An opaque cursor: the ranking version it pages through and the next row's position."""
    return base64.urlsafe_b64encode(orjson.dumps([version, offset])).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        version, offset = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(version, str) and type(offset) is int and 0 < offset <= 10_000_000:
            return version, offset
    except (ValueError, TypeError):
        pass
    raise Problem(422, "Unprocessable Content", "cursor: not one this API issued (take it from `next`)")


class RankingGone(Exception):
    """A cursor's ranking changed and is no longer kept: start again from the first page."""


class RankingCache:
    """Rankings shared by every request of this process, computed off the event loop. Keyed by the
    normalised query (period, dimension, court, include_unregistered: never `limit`, which only
    slices), least-recently-used, each rebuilt only when its period's scores, the registry or the
    generation changed, and at most every `min_age_s` while scores keep moving."""

    def __init__(
        self,
        computed: Computed[FullRanking],
        memo: ScoreMemo | None = None,
        versions_kept: int = VERSIONS_KEPT,
        rows_kept: int = ROWS_KEPT,
    ):
        self._computed = computed
        self._memo = memo or ScoreMemo()
        # Rankings a cursor was issued for, by version: a later page is cut from the ranking the
        # first one was. Another process holds its own: there a version it does not hold is
        # answered only if its current ranking is that version (versions are content digests).
        self._versions: OrderedDict[str, FullRanking] = OrderedDict()
        self._versions_kept, self._rows_kept = versions_kept, rows_kept

    async def full(self, model: MongoReadModel, q: RankingQuery, fresh: bool = False) -> FullRanking:
        registry = await model.registry_for(q.period)  # as registered then, members its roster
        members = await model.court_branches(q.court, q.period) if q.court else None
        view = model.view()  # points and rulebook from one generation, taken once
        version = model.version(q.period, view)

        def snapshot() -> Steps[FullRanking]:
            rows, rulebook = view.rows(q.period, members), model.rulebook(view)
            return ranking_steps(
                rows, registry, rulebook, q.period, q.dimension, q.court, q.include_unregistered, self._memo
            )

        return await self._computed.get(q.key, version, snapshot, fresh=fresh)

    async def json(self, model: MongoReadModel, q: RankingQuery) -> bytes:
        """A page of the ranking: the first, or the one `q.cursor` points to (RankingGone when
        that ranking changed and is no longer kept)."""
        if q.cursor is None:
            ranking, offset = await self.full(model, q), 0
        else:
            version, offset = decode_cursor(q.cursor)
            kept = self._versions.get(version)
            if kept is None:
                current = await self.full(model, q)
                if current.version != version:
                    raise RankingGone(version)
                kept = current
            elif kept.query != q.key:
                raise Problem(422, "Unprocessable Content", "cursor: it pages another query's ranking")
            ranking = kept
        next_link = None
        if offset + q.limit < len(ranking.order):
            next_link = q.link(encode_cursor(ranking.version, offset + q.limit))
            self._keep(ranking)
        if offset + q.limit <= len(ranking.encoded):  # rows encoded already: at once
            return ranking.body(q.limit, offset, next_link)
        return await sliced(ranking.body_steps(q.limit, offset, next_link))

    def _keep(self, ranking: FullRanking) -> None:
        """Keep `ranking` for its cursors; forget the least recently used past the bounds."""
        self._versions[ranking.version] = ranking
        self._versions.move_to_end(ranking.version)
        rows = sum(len(r.order) for r in self._versions.values())
        while len(self._versions) > 1 and (
            len(self._versions) > self._versions_kept or rows > self._rows_kept
        ):
            rows -= len(self._versions.popitem(last=False)[1].order)


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

    @router.get(
        "/v1/rankings",
        response_model=Ranking,
        summary="Live ranking of branches (党支部排名)",
        description=(
            f"At most {MAX_LIMIT} rows a page; `next` links the following page, cut from the same "
            "ranking version as the first one (410 with a link to a fresh first page once that "
            "version is no longer kept)."
        ),
        responses=problem_responses(
            {
                410: "the cursor's ranking changed and is no longer kept: `first` links a fresh first page",
                422: "an invalid query or cursor",
            }
        ),
    )
    async def rankings(request: Request, _: Reader, q: Annotated[RankingQuery, Depends()]) -> Response:
        # The cached JSON as is: re-validating and serialising 50 rows per request would cost
        # more than everything else a cached ranking needs.
        try:
            body = await request.app.state.rankings.json(request.app.state.read_model, q)
        except RankingGone:
            first = RankingQuery(q.period, q.dimension, q.court, q.limit, q.include_unregistered).link()
            problem = {
                "type": "about:blank",
                "title": "Gone",
                "status": 410,
                "detail": "the ranking this cursor pages through has changed and is no longer kept: "
                "start again from the first page (`first`)",
                "instance": request.url.path,
                "first": first,
            }
            headers = {"Link": f'<{first}>; rel="first"'}
            return Response(orjson.dumps(problem), 410, headers, media_type=PROBLEM_JSON)
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
        if q.cursor is not None:
            raise Problem(
                422, "Unprocessable Content", "cursor: a stream starts from a snapshot of its first rows"
            )
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
