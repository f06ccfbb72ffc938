"""GET /v1/stats: totals per stream and kind over a range of months (the article's kind of figures)."""

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.scoring.api.computed import Computed, Steps
from services.scoring.api.rankings import Court, IncludeUnregistered
from services.scoring.api.read_model import MongoReadModel
from services.scoring.core.rulebook import kind_label
from services.scoring.core.summary import PeriodRow, period_rows
from services.scoring.score_feed import decode
from shared.auth import AuthFirstRoute, Reader
from shared.problems import Problem

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
MAX_MONTHS = 120


class KindTotal(BaseModel):
    label: str
    count: int
    hours: float


class StreamTotal(BaseModel):
    records: int
    hours: float
    kinds: dict[str, KindTotal]


class Stats(BaseModel):
    from_month: str
    to_month: str
    court: str | None
    branches: int
    streams: dict[str, StreamTotal]


def month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    end = (int(last[:4]), int(last[5:]))  # compared as numbers: "10000-01" sorts before "9999-12"
    months: list[str] = []
    while (y, m) <= end and len(months) <= MAX_MONTHS:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def stats_steps(ledgers: list, months: list[str], branches: set[str] | None) -> Steps[dict]:
    """Totals over the ledgers' months (of `branches` only, unless None), in slices."""
    wanted, docs = set(months), list[PeriodRow]()
    for i, x in enumerate(ledgers):
        if i % 256 == 0:
            yield
        if wanted & x.periods.keys():
            docs += [
                d for d in period_rows([decode(x.raw)], wanted) if branches is None or d.branch_id in branches
            ]
    yield
    tallies: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
    for i, doc in enumerate(docs):
        if i % 512 == 0:
            yield
        for kind, t in doc.score.kinds.items():
            tallies[doc.stream][kind][0] += t.count
            tallies[doc.stream][kind][1] += t.hours
    streams = {
        stream: StreamTotal(
            records=int(sum(c for c, _ in kinds.values())),
            hours=round(sum(h for _, h in kinds.values()), 2),
            kinds={
                k: KindTotal(label=kind_label(k), count=int(c), hours=round(h, 2))
                for k, (c, h) in sorted(kinds.items())
            },
        )
        for stream, kinds in sorted(tallies.items())
    }
    return {"branches": len({d.branch_id for d in docs}), "streams": streams}


async def stats_of(
    request: Request, from_month: str, to_month: str, court: str | None, include_unregistered: bool
) -> Stats:
    """The answer of GET /v1/stats (its exports answer the same)."""
    if from_month > to_month:
        raise Problem(422, "Unprocessable Content", "from must not be after to")
    months = month_range(from_month, to_month)
    if len(months) > MAX_MONTHS:
        raise Problem(422, "Unprocessable Content", f"at most {MAX_MONTHS} months at once")
    model: MongoReadModel = request.app.state.read_model
    registry = await model.branches()
    if court:
        branches: set[str] | None = set(await model.court_branches(court))
    else:
        branches = None if include_unregistered else set(registry)
    view = model.view()
    generation, _period, registry_version = model.version(months[0], view)
    version = (generation, tuple(view.versions.get(m, 0) for m in months), registry_version)

    def snapshot() -> Steps[dict]:
        return stats_steps(view.ledgers(), months, branches)

    computed: Computed[dict] = request.app.state.computed_stats
    key = (from_month, to_month, court, include_unregistered)
    found = await computed.get(key, version, snapshot)
    return Stats(from_month=from_month, to_month=to_month, court=court, **found)


def stats_router() -> APIRouter:
    router = APIRouter(tags=["stats"], route_class=AuthFirstRoute)

    @router.get("/v1/stats", response_model=Stats, summary="Totals per stream and kind over months (统计)")
    async def stats(
        request: Request,
        _: Reader,
        from_month: Annotated[str, Query(alias="from", pattern=MONTH, examples=["2022-01"])],
        to_month: Annotated[str, Query(alias="to", pattern=MONTH, examples=["2022-08"])],
        court: Court = None,
        include_unregistered: IncludeUnregistered = False,
    ) -> Stats:
        return await stats_of(request, from_month, to_month, court, include_unregistered)

    return router
