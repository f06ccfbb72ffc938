"""Exports against the running system: each file, read back (csv module, openpyxl), holds the figures
the JSON answer of the same route holds, under the same filters and the same reach."""

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import httpx
import openpyxl
import pytest

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.support import completion, contact, deployment, post_batch

CST = timezone(timedelta(hours=8))
MARCH = datetime(2024, 3, 15, 10, tzinfo=CST)
SCORING = URLS["scoring"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_NAME = '=HYPERLINK("http://example.invalid","点我")'  # a name a spreadsheet would run
DIMENSIONS = ("total", "service", "trial", "people", "team")
Table = list[list[Any]]


@pytest.fixture(scope="module")
async def world(tokens):
    """A court of three registered branches (one named like a formula) with March 2024 records."""
    court = new_id("court-x")
    a, b, c = (new_id(f"exp-{x}") for x in "abc")
    names = {a: FORMULA_NAME, b: f"民一庭党支部 {b}", c: f"-1 支部 {c}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, members in ((a, 2), (b, 4), (c, 1)):
            body = {"name": names[branch], "court": court, "court_name": "导出测试法院", "members": members}
            r = await client.put(f"{SCORING}/v1/branches/{branch}", json=body, headers=admin)
            assert r.status_code == 200, r.text
        w = tokens["writer"]
        await post_batch(
            client, "liaison", w, [contact(a, MARCH, "visit"), contact(a, MARCH, "judicial_suggestion")]
        )
        await post_batch(
            client, "volunteer", w, [deployment(b, MARCH + timedelta(days=i), 24, "b-1") for i in range(3)]
        )
        await post_batch(client, "training", w, [completion(c, MARCH, "lecture_hall", "lh-2024-03")])

        async def streams() -> dict:
            params = {"from": "2024-01", "to": "2024-12", "court": court}
            r = await client.get(f"{SCORING}/v1/stats", params=params, headers=reader(tokens))
            return {k: v["records"] for k, v in r.json()["streams"].items()} if r.status_code == 200 else {}

        expected = {"liaison": 2, "volunteer": 3, "training": 1}
        assert await poll(streams, lambda s: s == expected, deadline_s=90) == expected
    return {"court": court, "a": a, "b": b, "c": c, "names": names}


def reader(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['reader']}"}


async def answer(tokens, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=SCORING, timeout=120) as client:
        r = await client.get(path, params=params, headers=reader(tokens))
        assert r.status_code == 200, r.text[:300]
        return r.json()


async def exported(tokens, path: str, fmt: str, **params: Any) -> tuple[httpx.Response, Table]:
    """The export in `fmt`, and its rows read back (the header row first)."""
    async with httpx.AsyncClient(base_url=SCORING, timeout=120) as client:
        r = await client.get(path, params={**params, "format": fmt}, headers=reader(tokens))
    assert r.status_code == 200, r.text[:300]
    return r, read_back(r.content, fmt)


def read_back(content: bytes, fmt: str) -> Table:
    if fmt == "csv":
        assert content.startswith("\ufeff".encode()), "Excel reads UTF-8 only after a BOM"
        return [list(row) for row in csv.reader(io.StringIO(content.decode("utf-8")[1:]))]
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def as_cell(value: Any, fmt: str) -> Any:
    """What the JSON value reads back as from the file: CSV text (formulas neutralised), XLSX values."""
    if fmt == "xlsx":
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def as_rows(rows: Table, fmt: str) -> Table:
    return [[as_cell(v, fmt) for v in row] for row in rows]


def numeric(table: Table, fmt: str) -> Table:
    """CSV cells that are numbers, as numbers (to compare figures, not spellings)."""
    if fmt == "xlsx":
        return table

    def num(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v

    return [[num(v) for v in row] for row in table]


BOTH = pytest.mark.parametrize("fmt", ["csv", "xlsx"])


@BOTH
async def test_the_ranking_export_holds_the_rankings_rows(tokens, world, fmt):
    params = {"period": "2024-03", "dimension": "people", "court": world["court"]}
    ranking = await answer(tokens, "/v1/rankings", **params, limit=1000)
    response, table = await exported(tokens, "/v1/exports/rankings", fmt, **params)
    assert table[0][:3] == ["名次 Rank", "支部编号 Branch ID", "支部名称 Branch"]
    expected = [
        [r["rank"], r["branch_id"], r["name"], r["court"], r["members"], r["registered"], r["score"]]
        + [r["scores"][d] for d in DIMENSIONS]
        for r in ranking["rows"]
    ]
    assert len(expected) == 3 and ranking["rows"][0]["branch_id"] == world["b"]  # b's volunteer hours
    assert table[1:] == as_rows(expected, fmt)
    assert ranking["rows"][0]["score"] > 0
    by_id = {row[1]: row for row in table[1:]}
    if fmt == "csv":
        assert by_id[world["a"]][2] == "'" + FORMULA_NAME  # neutralised
        assert by_id[world["c"]][2].startswith("'-1 ")
    else:
        assert by_id[world["a"]][2] == FORMULA_NAME  # an XLSX string cell: shown, never run
    title = f"党支部排名-2024-03-司法为民-{world['court']}.{fmt}"
    assert filename_star(response) == title
    assert (
        f'filename="ranking-2024-03-people-{world["court"]}.{fmt}"' in response.headers["content-disposition"]
    )


@BOTH
async def test_a_branch_breakdown_export_holds_its_lines_and_ranks(tokens, world, fmt):
    branch = world["b"]
    b = await answer(tokens, f"/v1/branches/{branch}/score", period="2024-03", dimension="people")
    _, table = await exported(
        tokens, f"/v1/exports/branches/{branch}/score", fmt, period="2024-03", dimension="people"
    )
    lines = {(row[0], row[1]): row for row in numeric(table[1:], fmt)}
    assert lines[("合计 total", "total")][8] == b["total"]
    for d, x in b["dimensions"].items():
        assert lines[("维度 dimension", d)][7:10] == [x["points"], x["per_member"], x["weight"]]
    assert b["dimensions"]["people"]["points"] == 20  # capped: a visible figure, not a zero
    for k in b["kinds"]:
        row = lines[("活动 kind", k["kind"])]
        assert row[2:8] == [k["label"], k["stream"], k["dimension"], k["count"], k["hours"], k["points"]]
    for where in ("city", "court"):
        row = lines[("名次 rank", where)]
        assert row[10:12] == [b["rank"][where]["rank"], b["rank"][where]["of"]]
    assert lines[("名次 rank", "court")][10:12] == [1, 3]
    assert len(table) == 1 + 1 + len(b["dimensions"]) + len(b["kinds"]) + 2


@BOTH
async def test_the_stats_export_holds_each_stream_and_kind(tokens, world, fmt):
    params = {"from": "2024-01", "to": "2024-12", "court": world["court"]}
    stats = await answer(tokens, "/v1/stats", **params)
    _, table = await exported(tokens, "/v1/exports/stats", fmt, **params)
    expected = []
    for stream, total in stats["streams"].items():
        expected.append([stream, "*", "合计 total", total["records"], total["hours"]])
        expected += [[stream, kind, k["label"], k["count"], k["hours"]] for kind, k in total["kinds"].items()]
    assert numeric(table[1:], fmt) == numeric(as_rows(expected, fmt), fmt)
    assert [row[3] for row in numeric(table[1:], fmt) if row[1] == "*"] == [
        2,
        1,
        3,
    ]  # liaison, training, volunteer


def cell(i: dict[str, Any]) -> str:
    """A window's cell: its status, done and needed."""
    return f"{i['status']} {i['done']}/{i['needed']}"


@BOTH
async def test_the_compliance_export_holds_every_window_of_every_branch(tokens, world, fmt):
    params = {"period": "2024", "court": world["court"]}
    page = await answer(tokens, "/v1/compliance", **params, limit=1000)
    response, table = await exported(tokens, "/v1/exports/compliance", fmt, **params)
    first = page["branches"][0]["items"]
    assert table[0][5:] == [f"{i['label'].split()[0]} {i['kind']} {i['window']}" for i in first]
    expected = [
        [b["branch_id"], b["name"], b["court"], b["colour"], b["done_share"], *(cell(i) for i in b["items"])]
        for b in page["branches"]
    ]
    assert page["total_branches"] == 3 and len(first) > 12  # a year's windows of every required kind
    assert table[1:] == as_rows(expected, fmt)
    by_id = {row[0]: row for row in table[1:]}
    march = table[0].index("政治理论及业务学习大讲堂 lecture_hall 2024-03")
    assert by_id[world["c"]][march] == "done 1/1" and by_id[world["b"]][march] == "overdue 0/1"
    _, one = await exported(tokens, "/v1/exports/compliance", fmt, **params, branch=world["c"])
    assert one == [table[0], by_id[world["c"]]]
    if fmt == "xlsx":  # each window's cell on its colour
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == world["c"])
        assert row[march].fill.fgColor.rgb.endswith("C6EFCE")  # green: done
        assert next(r for r in sheet.iter_rows(min_row=2) if r[0].value == world["b"])[
            march
        ].fill.fgColor.rgb.endswith("FFC7CE")


@BOTH
async def test_the_advanced_export_holds_the_candidates(tokens, world, fmt):
    """City-wide and of a year others write too: compared when the answer held still around it."""

    def rows(a: dict) -> Table:
        lists = [("全市 city", a["city"])] + [(f"本院 {c}", p) for c, p in a["per_court"].items()]
        return [
            [s, p["rank"], p["branch_id"], p["name"], p["court"], p["total"], p["compliance"]]
            for s, ps in lists
            for p in ps
        ]

    async def compared() -> tuple[Table, Table, bool]:
        before = await answer(tokens, "/v1/advanced-branches", year="2024")
        _, table = await exported(tokens, "/v1/exports/advanced-branches", fmt, year="2024")
        after = await answer(tokens, "/v1/advanced-branches", year="2024")
        return table[1:], as_rows(rows(before), fmt), before == after

    table, expected, still = await poll(compared, lambda t: t[2], deadline_s=120, every_s=1)
    assert still, "the year's candidates kept changing"
    assert table == expected


async def test_the_accept_header_chooses_and_anything_else_is_refused(tokens, world):
    path, params = "/v1/exports/rankings", {"period": "2024-03", "court": world["court"]}
    async with httpx.AsyncClient(base_url=SCORING, timeout=60) as client:

        async def get(accept: str) -> httpx.Response:
            return await client.get(path, params=params, headers={**reader(tokens), "Accept": accept})

        xlsx = await get(f"{XLSX}, */*;q=0.5")
        assert xlsx.headers["content-type"] == XLSX and xlsx.content[:2] == b"PK"
        assert len(read_back(xlsx.content, "xlsx")) == 4
        as_csv = await get("text/csv")
        assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert len(read_back(as_csv.content, "csv")) == 4
        refused = await get("application/json")
        assert refused.status_code == 406 and refused.headers["content-type"] == "application/problem+json"
        asked = await client.get(
            path, params={**params, "format": "csv"}, headers={**reader(tokens), "Accept": XLSX}
        )
        assert asked.headers["content-type"].startswith("text/csv")  # ?format= wins


async def test_exports_keep_the_routes_reach(tokens, world):
    """No token 401, a writer 403, a court's reader its own court only (as the JSON routes)."""
    own = dev_issuer.mint(["reader"], world["court"], None, None, 600)
    cases: list[tuple[dict[str, str], str, dict[str, str], int]] = [
        ({}, "/v1/exports/rankings", {"period": "2024-03"}, 401),
        (
            {"Authorization": f"Bearer {tokens['writer']}"},
            "/v1/exports/stats",
            {"from": "2024-01", "to": "2024-02"},
            403,
        ),
        (
            {"Authorization": f"Bearer {own}"},
            "/v1/exports/compliance",
            {"period": "2024", "court": "cz-zy"},
            403,
        ),
        ({"Authorization": f"Bearer {own}"}, "/v1/exports/advanced-branches", {"year": "2024"}, 403),
        ({"Authorization": f"Bearer {own}"}, "/v1/exports/rankings", {"period": "2024-03"}, 200),
    ]
    async with httpx.AsyncClient(base_url=SCORING, timeout=60) as client:
        for headers, path, params, status in cases:
            r = await client.get(path, params=params, headers=headers)
            assert r.status_code == status, (path, headers.keys(), r.text[:300])
        r = await client.get(
            "/v1/exports/rankings", params={"period": "2024-03"}, headers={"Authorization": f"Bearer {own}"}
        )
    ids = {row[1] for row in read_back(r.content, "csv")[1:]}
    assert ids == {world["a"], world["b"], world["c"]}  # its own court's, filled in as the JSON route does


def filename_star(response: httpx.Response) -> str:
    header = response.headers["content-disposition"]
    assert header.startswith("attachment; ") and header.isascii()
    return unquote(header.split("filename*=UTF-8''")[1], encoding="utf-8")


def grade_lines(a: dict) -> Table:
    order = ("good", "fairly_good", "average", "poor")
    lines = []
    for m in a["members"]:
        ballots = [m["ballots"].get(g, 0) for g in order]
        grade = f"{m['label']} {m['grade']}"
        lines.append([m["member_id"], m["branch_id"], m["court"], grade, m["score"], m["points"], *ballots])
        lines[-1].append("；".join(m["reasons"]))
    return lines


def place_lines(a: dict) -> Table:
    lines = []
    for c, found in a["courts"].items():
        for pool in found["pools"]:
            head = [c, pool["name"], pool["quota"], pool["arithmetic"]]
            places = [[p["rank"], p["member_id"], p["branch_id"], p["points"]] for p in pool["places"]]
            lines += [head + p for p in places] or [head + [None] * 4]
    return lines


async def export_beside_answer(tokens, path: str, fmt: str, lines: Any, **params: Any) -> tuple[Table, Table]:
    """The export read back and the lines the JSON answer makes, once the answer held still around it."""

    async def compared() -> tuple[Table, Table, bool]:
        before = await answer(tokens, f"/v1/{path}", **params)
        _, table = await exported(tokens, f"/v1/exports/{path}", fmt, **params)
        after = await answer(tokens, f"/v1/{path}", **params)
        return table[1:], as_rows(lines(before), fmt), before == after

    table, expected, still = await poll(compared, lambda t: t[2] and bool(t[1]), deadline_s=120, every_s=1)
    assert still, f"the {path} answer kept changing"
    return table, expected


@BOTH
async def test_the_grades_and_excellent_exports_hold_the_answers(tokens, world, fmt):
    """Members' grades and the excellent places of the world's court, line for line as the JSON
    answers give them (ids only: names stay in the registry)."""
    table, expected = await export_beside_answer(
        tokens, "grades", fmt, grade_lines, year="2024", court=world["court"]
    )
    assert numeric(table, fmt) == numeric(expected, fmt)
    assert "b-1" in {row[0] for row in table}  # the volunteer member of branch b is graded
    table, expected = await export_beside_answer(
        tokens, "excellent", fmt, place_lines, year="2024", court=world["court"]
    )
    assert table and numeric(table, fmt) == numeric(expected, fmt)
