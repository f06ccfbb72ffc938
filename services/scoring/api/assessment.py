"""GET /v1/compliance (organisational-life cadences) and GET /v1/advanced-branches (先进党支部)."""

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.scoring.api.rankings import Court, Period, build_ranking
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.core import advanced, compliance
from services.scoring.core.periods import month_of, months_in, year_of
from services.scoring.core.rulebook import Rulebook, kind_label
from shared.auth import AuthFirstRoute, Reader

ADVANCED_RULE = (
    "Eligible: registered branches with a positive yearly total that kept at least min_compliance of "
    "their required cadences (items done / items done or overdue). Per court (本院先进党支部): the top "
    "court_share of the court's branches by yearly total per member; city-wide (市直先进党支部): the top "
    "city_share of all branches. Quotas round up; ties at the boundary are all named."
)


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
    branches: list[BranchCompliance]


class Pick(BaseModel):
    rank: int
    branch_id: str
    name: str
    total: float
    compliance: float


class Advanced(BaseModel):
    year: str
    rule: str = ADVANCED_RULE
    rulebook_version: str
    per_court: dict[str, list[Pick]]
    city: list[Pick]


async def _counts(model: MongoReadModel, months: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """branch -> month -> kind -> records, from the training stream."""
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for doc in await model.period_docs(months):
        if doc["stream"] == "training":
            counts[doc["branch_id"]][doc["period"]] = {k: t["count"] for k, t in doc["kinds"].items()}
    return counts


async def _all_compliance(request: Request, period: str, court: str | None) -> list[BranchCompliance]:
    model: MongoReadModel = request.app.state.read_model
    rulebook: Rulebook = request.app.state.rulebook
    today = month_of(request.app.state.clock())
    registry = await model.branches()
    counts = await _counts(model, months_in(year_of(period)))
    rows = []
    for branch_id in sorted(set(registry) | set(counts)):
        branch: Branch | None = registry.get(branch_id)
        if court and (branch is None or branch.court != court):
            continue
        members = branch.members if branch else 1
        items = compliance.check(counts.get(branch_id, {}), period, rulebook.cadence, members, today)
        colour, share = compliance.overall(items)
        rows.append(
            BranchCompliance(
                branch_id=branch_id,
                name=branch.name if branch else branch_id,
                court=branch.court if branch else None,
                colour=colour,
                done_share=round(share, 4),
                items=[
                    ItemOut(
                        kind=i.kind,
                        label=kind_label(i.kind),
                        window=i.window,  # type: ignore[index]
                        needed=i.needed,
                        done=i.done,
                        status=i.status,
                        colour=i.colour,
                    )
                    for i in items
                ],
            )
        )
    return rows


def assessment_router() -> APIRouter:
    router = APIRouter(tags=["assessment"], route_class=AuthFirstRoute)

    @router.get("/v1/compliance", response_model=Compliance, summary="Required cadences: done, due, overdue")
    async def compliance_view(request: Request, _: Reader, period: Period, court: Court = None) -> Compliance:
        return Compliance(
            period=period,
            as_of_month=month_of(request.app.state.clock()),
            branches=await _all_compliance(request, period, court),
        )

    @router.get(
        "/v1/advanced-branches", response_model=Advanced, summary="Year-end advanced-branch candidates"
    )
    async def advanced_view(
        request: Request, _: Reader, year: Annotated[str, Query(pattern=r"^[0-9]{4}$", examples=["2022"])]
    ) -> Advanced:
        rulebook: Rulebook = request.app.state.rulebook
        model: MongoReadModel = request.app.state.read_model
        ranking = await build_ranking(model, rulebook, year, "total", None, limit=10**9)
        totals = {r.branch_id: r.score for r in ranking.rows}
        registry = await model.branches()
        candidates = []
        for row in await _all_compliance(request, year, None):
            done = sum(i.status == "done" for i in row.items)
            closed = sum(i.status in ("done", "overdue") for i in row.items)
            if row.branch_id in registry:
                candidates.append(
                    advanced.Candidate(
                        row.branch_id,
                        registry[row.branch_id].court,
                        totals.get(row.branch_id, 0.0),
                        done / closed if closed else 1.0,
                    )
                )
        by_id = {c.branch_id: c for c in candidates}
        courts, city = advanced.select(candidates, rulebook.advanced)

        def picks(ranked: list) -> list[Pick]:
            return [
                Pick(
                    rank=r.rank,
                    branch_id=r.branch_id,
                    name=registry[r.branch_id].name,
                    total=r.value,
                    compliance=round(by_id[r.branch_id].compliance, 4),
                )
                for r in ranked
            ]

        return Advanced(
            year=year,
            rulebook_version=rulebook.version,
            per_court={c: picks(r) for c, r in courts.items()},
            city=picks(city),
        )

    return router
