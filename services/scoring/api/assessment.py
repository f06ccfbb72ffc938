"""GET /v1/compliance (organisational-life cadences) and GET /v1/advanced-branches (先进党支部).

Both read every branch of a year: they are computed off the event loop, once per data version
(services.scoring.api.computed), and compliance is answered a page at a time."""

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.scoring.api.computed import Computed, Steps, run, sliced
from services.scoring.api.rankings import (
    JSON_OPTIONS,
    Court,
    FullRanking,
    IncludeUnregistered,
    Period,
    RankingQuery,
)
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.api.score_view import Counts
from services.scoring.core import advanced, compliance, standing
from services.scoring.core.periods import month_of, year_of
from services.scoring.core.rulebook import Rulebook, kind_label
from services.scoring.core.standing import BranchPeriod
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN

ADVANCED_RULE = (
    "Eligible: registered branches with a positive yearly total that kept at least min_compliance of "
    "their required cadences (items done / items done or overdue). Per court (本院先进党支部): the top "
    "court_share of the court's branches by yearly total per member; city-wide (市直先进党支部): the top "
    "city_share of all branches. Quotas round up; ties at the boundary are all named."
)
PAGE = 100
PAGES_KEPT = 32  # encoded pages kept per table (the first page is what nearly everyone asks)
MAX_PAGE = 1000


class ItemOut(BaseModel):
    kind: str
    label: str
    window: str
    needed: int
    done: int
    status: str = Field(description="done, due (window still open) or overdue")
    colour: str = Field(description="green, yellow or red")


class BranchCompliance(BaseModel):
    branch_id: str
    name: str
    court: str | None
    colour: str = Field(description="the worst colour of its items")
    done_share: float
    items: list[ItemOut]


class Compliance(BaseModel):
    period: str
    as_of_month: str
    rulebook_version: str
    total_branches: int = Field(description="branches that match the filters, over all pages")
    colours: dict[str, int] = Field(description="branches of each colour, over all pages")
    offset: int
    branches: list[BranchCompliance] = Field(description=f"by branch id, at most `limit` (default {PAGE})")


class Pick(BaseModel):
    rank: int
    branch_id: str
    name: str
    court: str = Field(description="the branch's court: city picks come from every court")
    total: float
    compliance: float


class Advanced(BaseModel):
    year: str
    rule: str = ADVANCED_RULE
    rulebook_version: str
    per_court: dict[str, list[Pick]]
    city: list[Pick]


@dataclass(frozen=True, slots=True)
class _Judged:
    """One branch's compliance in one period, and what it was judged from."""

    counts: Counts | None  # the view replaces a branch's counts when they change: identity is a version
    members: int
    dones: tuple[int, ...]  # per window of the plan
    tally: compliance.Tally


class JudgedMemo:
    """Each branch's last judgement per (period, month of today, rulebook): a recomputation after
    some records judges again only the branches whose counts or members changed."""

    def __init__(self, max_plans: int = 8):
        self._max_plans = max_plans
        self._plans: OrderedDict[tuple, tuple[Rulebook, list[compliance.Window], dict[str, _Judged]]] = (
            OrderedDict()
        )

    def plan(self, period: str, today: str, rulebook: Rulebook) -> tuple[list[compliance.Window], dict]:
        key = (period, today, id(rulebook))
        if key not in self._plans:  # the rulebook is kept in the entry: its id cannot be reused meanwhile
            self._plans[key] = (rulebook, compliance.plan(period, rulebook.cadence, today), {})
            while len(self._plans) > self._max_plans:
                self._plans.popitem(last=False)
        self._plans.move_to_end(key)
        _, windows, judged = self._plans[key]
        return windows, judged


@dataclass(frozen=True)
class ComplianceTable:
    """Every selected branch's compliance in one period at one data version; rows are encoded per
    page asked for (a year's items of 10,000 branches would be tens of megabytes)."""

    head: dict[str, Any]  # period, as_of_month, rulebook_version, total_branches, colours
    ids: list[str]  # sorted
    judged: list[_Judged]
    windows: list[compliance.Window]
    registry: dict[str, Branch]
    labels: dict[str, str]
    pages: dict[tuple, bytes] = field(default_factory=dict, repr=False)  # pages asked for, encoded once

    def ratios(self) -> dict[str, float]:
        return {b: j.tally.kept_share for b, j in zip(self.ids, self.judged, strict=True)}

    def body(self, offset: int, limit: int, branch: str | None) -> bytes:
        return run(self.body_steps(offset, limit, branch))

    def body_steps(self, offset: int, limit: int, branch: str | None) -> Steps[bytes]:
        """One page of the answer as JSON (or the one branch asked for)."""
        if branch is not None:
            i = bisect_left(self.ids, branch)
            page = range(i, i + 1) if i < len(self.ids) and self.ids[i] == branch else range(0)
        else:
            page = range(offset, min(offset + limit, len(self.ids)))
        rows = []
        for i in page:
            rows.append(orjson.dumps(self._row(i)))
            yield
        head = orjson.dumps({**self.head, "offset": 0 if branch else offset})
        return head[:-1] + b',"branches":[' + b",".join(rows) + b"]}"

    def _row(self, i: int) -> dict[str, Any]:
        branch_id, j = self.ids[i], self.judged[i]
        branch = self.registry.get(branch_id)
        items = [compliance.judge(w, done, j.members) for w, done in zip(self.windows, j.dones, strict=True)]
        return {
            "branch_id": branch_id,
            "name": branch.name if branch else branch_id,
            "court": branch.court if branch else None,
            "colour": j.tally.colour,
            "done_share": round(j.tally.done_share, 4),
            "items": [
                {
                    "kind": item.kind,
                    "label": self.labels[item.kind],
                    "window": item.window,
                    "needed": item.needed,
                    "done": item.done,
                    "status": item.status,
                    "colour": item.colour,
                }
                for item in items
            ],
        }


def compute_compliance(*args: Any) -> ComplianceTable:
    """compliance_steps, all at once."""
    return run(compliance_steps(*args))


def compliance_steps(
    counts: dict[str, Counts],
    registry: dict[str, Branch],
    ids: list[str],
    period: str,
    rulebook: Rulebook,
    today: str,
    memo: JudgedMemo,
    year_rows: dict[str, BranchPeriod] | None = None,
) -> Steps[ComplianceTable]:
    """Compliance of the branches `ids` (sorted), in slices, from snapshots; only the branches
    whose counts or members changed since the memo's last judgement are judged again. Members are
    the standing's (`year_rows`: the year's rows, for the members seen of unregistered branches):
    the yearly pledge is needed from each."""
    year_rows = year_rows or {}
    windows, memo_of_plan = memo.plan(period, today, rulebook)
    colours = dict.fromkeys(compliance.COLOURS.values(), 0)
    judged = []
    for n, branch_id in enumerate(ids):
        if n % 16 == 0:
            yield
        branch, mine = registry.get(branch_id), counts.get(branch_id)
        row = year_rows.get(branch_id)
        members = standing.members(branch.members if branch else None, len(row.active_members) if row else 0)
        j = memo_of_plan.get(branch_id)
        if j is None or j.counts is not mine or j.members != members:
            dones = compliance.done_counts(mine or {}, windows)
            j = _Judged(mine, members, dones, compliance.tally(windows, dones, members))
            memo_of_plan[branch_id] = j
        colours[j.tally.colour] += 1
        judged.append(j)
    head = {
        "period": period,
        "as_of_month": today,
        "rulebook_version": rulebook.version,
        "total_branches": len(ids),
        "colours": colours,
    }
    labels = {kind: kind_label(kind) for kind in rulebook.cadence}
    return ComplianceTable(head, ids, judged, windows, registry, labels)


def compute_advanced(*args: Any) -> bytes:
    """advanced_steps, all at once."""
    return run(advanced_steps(*args))


def advanced_steps(
    ranking: FullRanking,
    counts: dict[str, Counts],
    registry: dict[str, Branch],
    year: str,
    rulebook: Rulebook,
    today: str,
    memo: JudgedMemo,
    year_rows: dict[str, BranchPeriod] | None = None,
) -> Steps[bytes]:
    """The year's candidates as JSON (registered branches only), in slices, from snapshots."""
    ids = sorted(registry)
    yield
    table = yield from compliance_steps(counts, registry, ids, year, rulebook, today, memo, year_rows)
    ratios = table.ratios()
    yield
    candidates = [
        advanced.Candidate(b, registry[b].court, ranking.value(b) or 0.0, ratios[b]) for b in ratios
    ]
    yield
    courts, city = advanced.select(candidates, rulebook.advanced)
    yield

    def picks(ranked: list) -> list[dict]:
        return [
            {
                "rank": r.rank,
                "branch_id": r.branch_id,
                "name": registry[r.branch_id].name,
                "court": registry[r.branch_id].court,
                "total": r.value,
                "compliance": round(ratios[r.branch_id], 4),
            }
            for r in ranked
        ]

    body = {
        "year": year,
        "rule": ADVANCED_RULE,
        "rulebook_version": rulebook.version,
        "per_court": {c: picks(r) for c, r in courts.items()},
        "city": picks(city),
    }
    return orjson.dumps(body, option=JSON_OPTIONS)


async def _compliance_table(
    request: Request, period: str, court: str | None, include_unregistered: bool, fresh: bool = False
) -> ComplianceTable:
    """The compliance of `period` (`fresh`: of the data as it is now, never an older table; see
    Computed.get)."""
    model: MongoReadModel = request.app.state.read_model
    today = month_of(request.app.state.clock())
    registry = await model.registry_for(period)  # as registered then, members its roster
    court_ids = await model.court_branches(court, period) if court else None
    view, year = model.view(), year_of(period)
    memo: JudgedMemo = request.app.state.judged
    version = (*model.version(year, view), today)

    def snapshot() -> Steps[ComplianceTable]:
        counts, rulebook, year_rows = view.training(year), model.rulebook(view), view.rows(year)
        seen = dict(view.seen) if include_unregistered and court_ids is None else {}

        def compute() -> Steps[ComplianceTable]:
            if court_ids is not None:  # a court's registered branches (unregistered have no court)
                ids = sorted(court_ids)
            elif include_unregistered:  # and every branch with scores in the year
                ids = sorted(
                    registry.keys() | {b for b, ledgers in seen.items() if any(y == year for _, y in ledgers)}
                )
            else:
                ids = sorted(registry)
            yield
            return (
                yield from compliance_steps(counts, registry, ids, period, rulebook, today, memo, year_rows)
            )

        return compute()

    computed: Computed[ComplianceTable] = request.app.state.computed_compliance
    return await computed.get((period, court, include_unregistered), version, snapshot, fresh=fresh)


async def advanced_json(request: Request, year: str, fresh: bool = False) -> bytes:
    """The answer of GET /v1/advanced-branches as JSON (its exports answer the same); `fresh`:
    of the data as it is now (a finalisation freezes it), never the last value computed."""
    model: MongoReadModel = request.app.state.read_model
    today = month_of(request.app.state.clock())
    # The year's totals of registered branches, as the city ranking has them (shared, cached).
    query = RankingQuery(year, "total", None, 1, False)
    ranking = await request.app.state.rankings.full(model, query, fresh=fresh)
    registry = await model.registry_for(year)
    view = model.view()
    version = (*model.version(year, view), today)
    memo: JudgedMemo = request.app.state.judged

    def snapshot() -> Steps[bytes]:
        counts, rulebook = view.training(year), model.rulebook(view)
        return advanced_steps(ranking, counts, registry, year, rulebook, today, memo, view.rows(year))

    computed: Computed[bytes] = request.app.state.computed_advanced
    return await computed.get(year, version, snapshot, fresh=fresh)


def assessment_router() -> APIRouter:
    router = APIRouter(tags=["assessment"], route_class=AuthFirstRoute)

    @router.get(
        "/v1/compliance",
        response_model=Compliance,
        summary="Required cadences: done, due, overdue",
        description=f"Registered branches by id, a page at a time (limit at most {MAX_PAGE}).",
    )
    async def compliance_view(
        request: Request,
        _: Reader,
        period: Period,
        court: Court = None,
        branch: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this branch")] = None,
        include_unregistered: IncludeUnregistered = False,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        table = await _compliance_table(request, period, court, include_unregistered)
        # A page of a year is thousands of items: encoded in slices, once per table.
        page = (offset, limit, branch)
        if (body := table.pages.get(page)) is None:
            body = await sliced(table.body_steps(offset, limit, branch))
            if len(table.pages) >= PAGES_KEPT:
                table.pages.pop(next(iter(table.pages)))
            table.pages[page] = body
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/advanced-branches", response_model=Advanced, summary="Year-end advanced-branch candidates"
    )
    async def advanced_view(
        request: Request, _: Reader, year: Annotated[str, Query(pattern=r"^[0-9]{4}$", examples=["2022"])]
    ) -> Response:
        return Response(await advanced_json(request, year), media_type="application/json")

    return router
