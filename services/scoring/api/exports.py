"""GET /v1/exports/*: what the leaders' routes answer, as CSV or XLSX files, with their filters and scopes.

Each export takes its route's own query parameters (so AuthFirstRoute checks the same court and
branch reach) and reads the same computed answer; only the encoding differs. Files are streamed: a
CSV a chunk of rows at a time, an XLSX written row by row to an unlinked temporary file off the
event loop, then sent from it."""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import IO, Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.scoring.api.assessment import ComplianceTable, _compliance_table, advanced_json
from services.scoring.api.branches import BranchId, _breakdown, own_rank
from services.scoring.api.computed import run
from services.scoring.api.grades import Branch, Year, excellent_answer, grades_answer
from services.scoring.api.rankings import (
    Court,
    Dimension,
    FullRanking,
    IncludeUnregistered,
    Period,
    RankingQuery,
)
from services.scoring.api.read_model import MongoReadModel
from services.scoring.api.stats import MONTH, stats_of
from services.scoring.api.tabular import (
    CSV,
    MEDIA_TYPES,
    XLSX,
    Column,
    Format,
    NotAcceptable,
    choose_format,
    content_disposition,
    csv_chunks,
    write_xlsx,
)
from services.scoring.core.grade_rules import GRADE_LABELS, GRADES
from services.scoring.core.rulebook import DIMENSION_LABELS, DIMENSIONS
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN
from shared.problems import Problem, problem_responses

FormatQuery = Annotated[
    Format | None,
    Query(alias="format", description="csv or xlsx; without it the Accept header chooses (CSV by default)"),
]
CHUNK = 64 * 1024
# Rows made between two yields to the event loop (CSV); a compliance row holds a year of windows.
STEP, BRANCH_STEP = 256, 32
DIMENSION_ZH = {"total": "总分", **{d: label.split()[0] for d, label in DIMENSION_LABELS.items()}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file, as an attachment named after its title",
        "content": {
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **problem_responses({406: "the Accept header names neither text/csv nor the XLSX type"}),
}
Rows = Callable[[], Iterable[Sequence[Any]]]

RANKING_COLUMNS = [
    Column("名次 Rank", "int", 8),
    Column("支部编号 Branch ID", "text", 20),
    Column("支部名称 Branch", "text", 28),
    Column("法院 Court", "text", 14),
    Column("党员 Members", "int", 10),
    Column("已登记 Registered", "bool", 10),
    Column("得分 Score", "number", 12),
    *(Column(f"{DIMENSION_ZH[d]} {d.capitalize()}", "number", 12) for d in ("total", *DIMENSIONS)),
]
BREAKDOWN_COLUMNS = [
    Column("类型 Line", "text", 14),
    Column("项目 Item", "text", 16),
    Column("名称 Label", "text", 30),
    Column("数据流 Stream", "text", 12),
    Column("维度 Dimension", "text", 12),
    Column("次数 Count", "int", 10),
    Column("时长 Hours", "number", 10),
    Column("分数 Points", "number", 12),
    Column("人均 Per member", "number", 12),
    Column("权重 Weight", "number", 10),
    Column("名次 Rank", "int", 8),
    Column("共 Of", "int", 8),
]
STATS_COLUMNS = [
    Column("数据流 Stream", "text", 12),
    Column("类别 Kind", "text", 22),
    Column("名称 Label", "text", 30),
    Column("次数 Count", "int", 10),
    Column("时长 Hours", "number", 10),
]
COMPLIANCE_HEAD = [
    Column("支部编号 Branch ID", "text", 20),
    Column("支部名称 Branch", "text", 28),
    Column("法院 Court", "text", 14),
    Column("颜色 Colour", "status", 10),
    Column("完成率 Done share", "number", 10),
]
ADVANCED_COLUMNS = [
    Column("范围 Scope", "text", 16),
    Column("名次 Rank", "int", 8),
    Column("支部编号 Branch ID", "text", 20),
    Column("支部名称 Branch", "text", 28),
    Column("法院 Court", "text", 14),
    Column("总分 Total", "number", 12),
    Column("合规率 Compliance", "number", 10),
]

BALLOT_ZH = {"good": "好票", "fairly_good": "较好票", "average": "一般票", "poor": "较差票"}
GRADE_COLUMNS = [
    Column("党员编号 Member ID", "text", 20),
    Column("支部编号 Branch ID", "text", 20),
    Column("法院 Court", "text", 14),
    Column("等次 Grade", "text", 10),
    Column("综合分 Score", "number", 10),
    Column("年度积分 Year points", "number", 12),
    *(Column(f"{BALLOT_ZH[g]} {g.replace('_', ' ').capitalize()} ballots", "int", 10) for g in GRADES),
    Column("依据 Reasons", "text", 60),
]
EXCELLENT_COLUMNS = [
    Column("法院 Court", "text", 14),
    Column("名额池 Pool", "text", 16),
    Column("名额 Quota", "int", 8),
    Column("算式 Arithmetic", "text", 40),
    Column("名次 Rank", "int", 8),
    Column("党员编号 Member ID", "text", 20),
    Column("支部编号 Branch ID", "text", 20),
    Column("年度积分 Year points", "number", 12),
]


def grade_rows(answer: dict[str, Any]) -> Iterator[list[Any]]:
    """A line per member and branch, as GET /v1/grades lists them (ids only: names stay in the registry)."""
    for m in answer["members"]:
        grade = f"{GRADE_LABELS[m['grade']]} {m['grade']}"
        ballots = [m["ballots"].get(g, 0) for g in GRADES]
        yield [
            m["member_id"],
            m["branch_id"],
            m["court"],
            grade,
            m["score"],
            m["points"],
            *ballots,
            "；".join(m["reasons"]),
        ]


def excellent_rows(answer: dict[str, Any]) -> Iterator[list[Any]]:
    """A line per place, under its court and pool with the quota's arithmetic (a pool without
    places keeps one line, so its arithmetic is shown)."""
    for court, c in answer["courts"].items():
        for pool in c["pools"]:
            head = [court, pool["name"], pool["quota"], pool["arithmetic"]]
            for place in pool["places"]:
                yield [*head, place["rank"], place["member_id"], place["branch_id"], place["points"]]
            if not pool["places"]:
                yield [*head, None, None, None, None]


def ranking_rows(ranking: FullRanking) -> Iterator[list[Any]]:
    """Every ranked branch, as /v1/rankings pages them (the very rows, decoded)."""
    for start in range(0, len(ranking.order), STEP):
        for raw in ranking.page(start, STEP):
            r = orjson.loads(raw)
            yield [
                r["rank"],
                r["branch_id"],
                r["name"],
                r["court"],
                r["members"],
                r["registered"],
                r["score"],
                *(r["scores"][d] for d in ("total", *DIMENSIONS)),
            ]


def breakdown_rows(b: dict[str, Any]) -> Iterator[list[Any]]:
    """A breakdown (its JSON form) as lines: the total, each dimension, each kind, the ranks."""

    def line(*cells: Any) -> list[Any]:  # blanks to the right
        return [*cells, *[None] * (len(BREAKDOWN_COLUMNS) - len(cells))]

    yield line("合计 total", "total", "总分 total", None, None, None, None, None, b["total"])
    for d, x in b["dimensions"].items():
        yield line(
            "维度 dimension", d, x["label"], None, d, None, None, x["points"], x["per_member"], x["weight"]
        )
    for k in b["kinds"]:
        yield line(
            "活动 kind",
            k["kind"],
            k["label"],
            k["stream"],
            k["dimension"],
            k["count"],
            k["hours"],
            k["points"],
        )
    if rank := b["rank"]:
        for where, zh in (("city", "全市名次 city rank"), ("court", "本院名次 court rank")):
            place = rank[where]
            score = rank["score"]
            yield line(
                "名次 rank",
                where,
                zh,
                None,
                rank["dimension"],
                None,
                None,
                None,
                score,
                None,
                *place.values(),
            )


def stats_rows(s: dict[str, Any]) -> Iterator[list[Any]]:
    """Per stream its total line, then each kind."""
    for stream, total in s["streams"].items():
        yield [stream, "*", "合计 total", total["records"], total["hours"]]
        for kind, k in total["kinds"].items():
            yield [stream, kind, k["label"], k["count"], k["hours"]]


def compliance_columns(table: ComplianceTable) -> list[Column]:
    """The branch, then a column per required kind and window ("大讲堂 lecture_hall 2022-07")."""
    windows = [
        Column(f"{table.labels[w.kind].split()[0]} {w.kind} {w.window}", "status", 14) for w in table.windows
    ]
    return COMPLIANCE_HEAD + windows


def compliance_rows(branches: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """A line per branch; each window's cell says its status, done and needed ("overdue 0/1"),
    coloured in XLSX (one line a branch: a year of 10,000 branches is 10,000 lines, not 450,000)."""
    for b in branches:
        items = [(f"{i['status']} {i['done']}/{i['needed']}", i["colour"]) for i in b["items"]]
        yield [b["branch_id"], b["name"], b["court"], (b["colour"], b["colour"]), b["done_share"], *items]


def advanced_rows(a: dict[str, Any]) -> Iterator[list[Any]]:
    """The city's picks, then each court's."""
    lists = [("全市 city", a["city"])] + [(f"本院 {court}", picks) for court, picks in a["per_court"].items()]
    for scope, picks in lists:
        for p in picks:
            yield [scope, p["rank"], p["branch_id"], p["name"], p["court"], p["total"], p["compliance"]]


async def _csv(columns: Sequence[Column], rows: Rows, every: int) -> AsyncIterator[bytes]:
    for chunk in csv_chunks(columns, rows(), every):
        yield chunk
        await asyncio.sleep(0)  # a chunk at a time: other requests run between them


async def _from_file(file: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def _xlsx_file(title: str, columns: Sequence[Column], rows: Rows) -> IO[bytes]:
    """The XLSX written to an anonymous temporary file (it has no name: nothing is left behind
    however the download, or the process, ends), rewound for reading."""
    file = tempfile.TemporaryFile(prefix="export-", suffix=".xlsx")  # closed by _from_file
    try:
        write_xlsx(file, title, columns, rows())
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


async def export(
    request: Request,
    asked: str | None,
    name: str,
    title: str,
    columns: list[Column],
    rows: Rows,
    every: int = STEP,
) -> Response:
    """The table in the format asked for, streamed, as an attachment `name` (ASCII) titled `title`
    (CSV: `every` rows a chunk)."""
    try:
        fmt = choose_format(asked, request.headers.get("accept"))
    except NotAcceptable as err:
        raise Problem(406, "Not Acceptable", str(err)) from None
    headers = {"Content-Disposition": content_disposition(f"{name}.{fmt}", f"{title}.{fmt}")}
    if fmt == "csv":
        return StreamingResponse(_csv(columns, rows, every), media_type=MEDIA_TYPES[fmt], headers=headers)
    file = await asyncio.to_thread(_xlsx_file, title, columns, rows)
    headers["Content-Length"] = str(os.fstat(file.fileno()).st_size)
    return StreamingResponse(_from_file(file), media_type=MEDIA_TYPES[fmt], headers=headers)


def _suffix(*parts: str | None) -> str:
    return "".join(f"-{p}" for p in parts if p)


def exports_router() -> APIRouter:
    router = APIRouter(tags=["exports"], route_class=AuthFirstRoute)

    def get(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return router.get(path, summary=summary, response_class=StreamingResponse, responses=RESPONSES)

    @get("/v1/exports/rankings", "The ranking as CSV or XLSX (党支部排名)")
    async def rankings(
        request: Request,
        _: Reader,
        period: Period,
        dimension: Dimension = "total",
        court: Court = None,
        include_unregistered: IncludeUnregistered = False,
        fmt: FormatQuery = None,
    ) -> Response:
        q = RankingQuery(period, dimension, court, 1, include_unregistered)
        ranking = await request.app.state.rankings.full(request.app.state.read_model, q)
        name = f"ranking-{period}-{dimension}{_suffix(court)}"
        title = f"党支部排名-{period}-{DIMENSION_ZH[dimension]}{_suffix(court)}"
        return await export(request, fmt, name, title, RANKING_COLUMNS, lambda: ranking_rows(ranking))

    @get("/v1/exports/branches/{branch_id}/score", "A branch's score breakdown as CSV or XLSX (得分明细)")
    async def breakdown(
        request: Request,
        _: Reader,
        branch_id: BranchId,
        period: Period,
        dimension: Annotated[Dimension, Query(description="the dimension the ranks rank by")] = "total",
        fmt: FormatQuery = None,
    ) -> Response:
        model: MongoReadModel = request.app.state.read_model
        view = model.view()  # as GET /v1/branches/{branch_id}/score reads it
        rulebook = model.rulebook(view)
        docs = view.period_docs([period], branch_id)
        branch = await model.branch(branch_id, period)
        if not docs and branch is None:
            raise Problem(404, "Not Found", f"no scores and no registration for branch {branch_id}")
        out = _breakdown(branch_id, branch, period, docs, rulebook)
        if branch is not None:
            out.rank = await own_rank(request, branch, period, dimension)
        answer = out.model_dump(mode="json")
        name, title = f"score-{branch_id}-{period}", f"得分明细-{out.name}-{period}"
        return await export(request, fmt, name, title, BREAKDOWN_COLUMNS, lambda: breakdown_rows(answer))

    @get("/v1/exports/stats", "Totals per stream and kind as CSV or XLSX (统计)")
    async def stats(
        request: Request,
        _: Reader,
        from_month: Annotated[str, Query(alias="from", pattern=MONTH, examples=["2022-01"])],
        to_month: Annotated[str, Query(alias="to", pattern=MONTH, examples=["2022-08"])],
        court: Court = None,
        include_unregistered: IncludeUnregistered = False,
        fmt: FormatQuery = None,
    ) -> Response:
        answer = (await stats_of(request, from_month, to_month, court, include_unregistered)).model_dump()
        name = f"stats-{from_month}-{to_month}{_suffix(court)}"
        title = f"统计-{from_month}至{to_month}{_suffix(court)}"
        return await export(request, fmt, name, title, STATS_COLUMNS, lambda: stats_rows(answer))

    @get("/v1/exports/compliance", "Required cadences as CSV or XLSX (组织生活合规)")
    async def compliance(
        request: Request,
        _: Reader,
        period: Period,
        court: Court = None,
        branch: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this branch")] = None,
        include_unregistered: IncludeUnregistered = False,
        fmt: FormatQuery = None,
    ) -> Response:
        table = await _compliance_table(request, period, court, include_unregistered)

        def branches() -> Iterator[dict[str, Any]]:
            """Every branch (or the one asked for), a page at a time, as /v1/compliance pages them."""
            pages = [(0, 1)] if branch else [(o, BRANCH_STEP) for o in range(0, len(table.ids), BRANCH_STEP)]
            for offset, limit in pages:
                yield from orjson.loads(run(table.body_steps(offset, limit, branch)))["branches"]

        name = f"compliance-{period}{_suffix(court, branch)}"
        title = f"组织生活合规-{period}{_suffix(court, branch)}"
        return await export(
            request,
            fmt,
            name,
            title,
            compliance_columns(table),
            lambda: compliance_rows(branches()),
            BRANCH_STEP,
        )

    @get("/v1/exports/advanced-branches", "Year-end advanced-branch candidates as CSV or XLSX (先进党支部)")
    async def advanced(
        request: Request,
        _: Reader,
        year: Annotated[str, Query(pattern=r"^[0-9]{4}$", examples=["2022"])],
        fmt: FormatQuery = None,
    ) -> Response:
        answer = orjson.loads(await advanced_json(request, year))
        title = f"先进党支部候选-{year}"
        return await export(
            request, fmt, f"advanced-{year}", title, ADVANCED_COLUMNS, lambda: advanced_rows(answer)
        )

    @get("/v1/exports/grades", "Members' political-quality grades as CSV or XLSX (政治素质考察)")
    async def grades(
        request: Request,
        _: Reader,
        year: Year,
        court: Court = None,
        branch: Branch = None,
        fmt: FormatQuery = None,
    ) -> Response:
        answer = await grades_answer(request, year, court, branch)
        name, title = f"grades-{year}{_suffix(court, branch)}", f"政治素质考察-{year}{_suffix(court, branch)}"
        return await export(request, fmt, name, title, GRADE_COLUMNS, lambda: grade_rows(answer))

    @get("/v1/exports/excellent", "Excellent places per court as CSV or XLSX (优秀等次)")
    async def excellent(
        request: Request, _: Reader, year: Year, court: Court = None, fmt: FormatQuery = None
    ) -> Response:
        answer = await excellent_answer(request, year, court)
        name, title = f"excellent-{year}{_suffix(court)}", f"优秀等次-{year}{_suffix(court)}"
        return await export(request, fmt, name, title, EXCELLENT_COLUMNS, lambda: excellent_rows(answer))

    return router
