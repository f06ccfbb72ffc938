"""GET /v1/reports/annual: a court's (or the whole city's) year-end report as a PDF (年度考评报告).

Its figures are the leaders' API's own answers, read through the very functions the JSON routes and
the exports call (rankings, compliance, advanced candidates, stats): the report can never disagree
with them. The PDF is laid out in a worker thread, one at a time, so the event loop keeps serving."""

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.scoring.api.annual_content import ROWS, AnnualContent, Quota, Ranked, worst_first
from services.scoring.api.annual_pdf import render
from services.scoring.api.assessment import ComplianceTable, _compliance_table, advanced_json
from services.scoring.api.pdf_font import FontMissing, font_path, register
from services.scoring.api.rankings import Court, Dimension, FullRanking, RankingQuery
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.api.stats import stats_of
from services.scoring.api.tabular import content_disposition
from services.scoring.core import advanced
from services.scoring.core.rulebook import AdvancedRule
from shared.auth import AuthFirstRoute, Reader
from shared.problems import Problem, problem_responses

SHANGHAI = ZoneInfo("Asia/Shanghai")
PDF = "application/pdf"
RENDERING, WAITING = 1, 4  # reports laid out at once (reportlab promises no thread safety), and queued
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report, as an attachment named after its Chinese title",
        "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
    },
    **problem_responses(
        {
            404: "no registered branch in the court asked for",
            503: "no CJK font to embed on this server, or too many reports being made (Retry-After)",
        }
    ),
}
UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class Renderer:
    """Lays reports out off the event loop, `RENDERING` at a time; past `WAITING` queued, 503."""

    def __init__(self, font: Path | None):
        self._font = font
        self._slots = asyncio.Semaphore(RENDERING)
        self._queued = 0

    def font(self) -> Path:
        """The font file to embed, or 503 saying what to install."""
        try:
            return font_path(self._font)
        except FontMissing as err:
            raise Problem(503, "Service Unavailable", str(err)) from None

    async def pdf(self, content: AnnualContent) -> bytes:
        path = self.font()
        if self._queued >= RENDERING + WAITING:
            busy = "too many reports are being made: retry after Retry-After seconds"
            raise Problem(503, "Service Unavailable", busy, headers={"Retry-After": "5"})
        self._queued += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(_render, path, content)
        except FontMissing as err:
            raise Problem(503, "Service Unavailable", str(err)) from None
        finally:
            self._queued -= 1


def _render(path: Path, content: AnnualContent) -> bytes:
    return render(content, register(path))


def court_name(registry: dict[str, Branch], ids: list[str], court: str) -> str:
    """A court's name as GET /v1/courts gives it: its first branch's, else its id."""
    names = (registry[b].court_name for b in sorted(ids) if b in registry)
    return next((name for name in names if name), None) or court


def pool_quota(
    table: ComplianceTable,
    total: FullRanking,
    registry: dict[str, Branch],
    rule: AdvancedRule,
    court: str | None,
) -> Quota:
    """The quota arithmetic of the court's pool (or the city's), from the candidates exactly as
    GET /v1/advanced-branches builds them: every registered branch with its yearly total and its
    kept share of required cadences."""
    ratios = table.ratios()
    court_of = {b: x.court for b, x in registry.items()}
    candidates = [
        advanced.Candidate(b, court_of.get(b, ""), total.value(b) or 0.0, ratios[b]) for b in ratios
    ]
    scope, share = ("本院 court", rule.court_share) if court else ("全市 city", rule.city_share)
    fit = advanced.eligible(candidates, rule)
    places = advanced.quota(len(candidates), share)
    return Quota(scope, len(candidates), share, places, len(fit), rule.min_compliance)


async def gather(request: Request, year: str, court: str | None, city: str) -> AnnualContent:
    """The year's answers of the leaders' routes for `court` (None: the city)."""
    model: MongoReadModel = request.app.state.read_model
    registry = await model.registry_for(year)  # as registered that year, as the routes read it
    ids = await model.court_branches(court, year) if court else list(registry)
    if court and not ids:
        raise Problem(404, "Not Found", f"no registered branch in court {court}")
    rankings = [
        await request.app.state.rankings.full(model, RankingQuery(year, d, court, 1, False))
        for d in get_args(Dimension)  # the total, then each dimension
    ]
    table = await _compliance_table(request, year, court, False)
    picked = orjson.loads(await advanced_json(request, year))
    stats = await stats_of(request, f"{year}-01", f"{year}-12", court, False)
    colours = [j.tally.colour for j in table.judged]
    listed = [
        orjson.loads(table.body(0, 1, table.ids[i]))["branches"][0] for i in worst_first(colours, table.ids)
    ]
    as_of: datetime | None = rankings[0].head["data_as_of"]
    rule = model.rulebook(model.view()).advanced
    return AnnualContent(
        year=year,
        court=court,
        title_name=court_name(registry, ids, court) if court else city,
        city=city,
        generated_at=request.app.state.clock().astimezone(SHANGHAI),
        rulebook_version=rankings[0].rulebook_version,
        data_as_of=as_of.astimezone(SHANGHAI) if as_of else None,
        rankings=[Ranked(r.head["dimension"], r.head["total_branches"], r.rows[:ROWS]) for r in rankings],
        compliance_head=table.head,
        compliance_rows=listed,
        advanced_rule=picked["rule"],
        quota=pool_quota(table, rankings[0], registry, rule, court),
        picks=picked["per_court"].get(court, []) if court else picked["city"],
        stats=stats.model_dump(),
    )


def annual_report_router(city: str, font: Path | None = None) -> APIRouter:
    router = APIRouter(tags=["reports"], route_class=AuthFirstRoute)
    renderer = Renderer(font)

    @router.get(
        "/v1/reports/annual",
        summary="A court's or the city's year-end report as PDF (年度考评报告)",
        description="The ranking with bar charts, compliance in colours, advanced-branch candidates with "
        "the quota arithmetic and the three streams' figures of one year; without `court` the whole "
        f"city's (tables list at most {ROWS} branches: the exports hold every row).",
        response_class=Response,
        responses=RESPONSES,
    )
    async def annual(
        request: Request,
        _: Reader,
        year: Annotated[str, Query(pattern=r"^[0-9]{4}$", examples=["2022"])],
        court: Court = None,
    ) -> Response:
        renderer.font()  # before any work: a server without the font says so at once
        content = await gather(request, year, court, city)
        pdf = await renderer.pdf(content)
        title = UNSAFE_IN_NAME.sub("-", f"{content.title_name}-{year}年度党支部考评报告")
        name = f"annual-report-{year}{'-' + court if court else ''}.pdf"
        headers = {
            "Content-Disposition": content_disposition(name, f"{title}.pdf"),
            "Cache-Control": "no-store",
        }
        return Response(pdf, media_type=PDF, headers=headers)

    return router
