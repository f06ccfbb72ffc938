"""The year-end report against the running system: the PDF, read back with a text extractor, names the
court and holds the figures the JSON routes answer; a court reader gets its own court's only; the
PDF embeds its font and points nowhere."""

import io
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest
from pypdf import PdfReader

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.support import completion, contact, deployment, post_batch

CST = timezone(timedelta(hours=8))
APRIL = datetime(2024, 4, 9, 10, tzinfo=CST)
SCORING = URLS["scoring"]
COURT_NAME = "年报测试法院"
NAMES = ("年报一支部", "年报二支部", "年报三支部")
REPORT = "/v1/reports/annual"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def world(tokens):
    """A court of three registered branches with April 2024 records in all three streams."""
    court = new_id("court-ar")
    branches = [new_id(f"ar-{x}") for x in "abc"]
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, name, members in zip(branches, NAMES, (3, 5, 2), strict=True):
            body = {"name": name, "court": court, "court_name": COURT_NAME, "members": members}
            r = await client.put(
                f"{SCORING}/v1/branches/{branch}", json=body, headers=bearer(tokens["admin"])
            )
            assert r.status_code == 200, r.text
        a, b, c = branches
        w = tokens["writer"]
        kinds = ["visit"] * 3 + ["judicial_suggestion"] * 2 + ["pre_litigation_resolution"]
        await post_batch(
            client, "liaison", w, [contact(a, APRIL + timedelta(hours=i), k) for i, k in enumerate(kinds)]
        )
        await post_batch(
            client, "volunteer", w, [deployment(b, APRIL + timedelta(days=i), 4.5) for i in range(3)]
        )
        await post_batch(client, "training", w, [completion(c, APRIL, "lecture_hall", "lh-2024-04")])

        async def streams() -> dict:
            params = {"from": "2024-01", "to": "2024-12", "court": court}
            r = await client.get(f"{SCORING}/v1/stats", params=params, headers=bearer(tokens["reader"]))
            return {k: v["records"] for k, v in r.json()["streams"].items()} if r.status_code == 200 else {}

        expected = {"liaison": 6, "volunteer": 3, "training": 1}
        assert await poll(streams, lambda s: s == expected, deadline_s=90) == expected
    return {"court": court, "branches": branches}


async def get(token: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=SCORING, timeout=180) as client:
        return await client.get(path, params=params, headers=bearer(token))


def text_of(pdf: bytes) -> str:
    """Every page's text, whitespace runs made one space (cells and lines come apart as spaces)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


async def test_the_report_names_the_court_and_holds_the_apis_figures(tokens, world):
    court = world["court"]
    reader = dev_issuer.mint(["reader"], court, None, None, 600)
    r = await get(reader, REPORT, year="2024")  # a court reader's report is its court's
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/pdf"
    title = f"{COURT_NAME}-2024年度党支部考评报告.pdf"
    assert f"filename*=UTF-8''{quote(title, safe='-._~')}" in r.headers["content-disposition"]
    assert f'filename="annual-report-2024-{court}.pdf"' in r.headers["content-disposition"]
    text = text_of(r.content)
    assert COURT_NAME in text and "2024年度党支部考评报告" in text

    ranking = (await get(reader, "/v1/rankings", period="2024", dimension="total", court=court)).json()
    assert [row["name"] for row in ranking["rows"]] and ranking["court"] == court
    assert f"评分细则版本 Rulebook version {ranking['rulebook_version']}" in text
    for row in ranking["rows"]:  # each ranked branch's line: rank, name, members, the total first
        line = f"{row['rank']} {row['name']} {row['members']} {row['scores']['total']:.2f}"
        assert line in text, line
    stats = (await get(reader, "/v1/stats", **{"from": "2024-01", "to": "2024-12", "court": court})).json()
    liaison, volunteer = stats["streams"]["liaison"]["kinds"], stats["streams"]["volunteer"]
    assert f"走访 Visits {liaison['visit']['count']} " in text
    assert f"司法建议 Judicial suggestions {liaison['judicial_suggestion']['count']} " in text
    assert f"诉前化解 Pre-litigation resolutions {liaison['pre_litigation_resolution']['count']} " in text
    assert f"志愿服务时长（小时）Volunteer hours {volunteer['hours']:g} " in text
    assert (liaison["visit"]["count"], volunteer["hours"]) == (3, 13.5)

    compliance = (await get(reader, "/v1/compliance", period="2024", court=court)).json()
    colours = compliance["colours"]
    assert f"红 red {colours['red']}，黄 yellow {colours['yellow']}，绿 green {colours['green']}" in text
    advanced = (await get(tokens["reader"], "/v1/advanced-branches", year="2024")).json()
    picks = advanced["per_court"].get(court, [])
    assert f"候选 {len(picks)} 个" in text and f"登记支部 {len(world['branches'])} 个" in text


async def test_a_reader_of_another_court_gets_403_and_an_unknown_court_404(tokens, world):
    other = dev_issuer.mint(["reader"], new_id("court-other"), None, None, 600)
    r = await get(other, REPORT, year="2024", court=world["court"])
    assert r.status_code == 403, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "court" in r.json()["detail"]
    r = await get(tokens["reader"], REPORT, year="2024", court=new_id("court-none"))
    assert r.status_code == 404 and "no registered branch" in r.json()["detail"]


async def test_the_pdf_embeds_its_font_and_points_nowhere(tokens, world):
    r = await get(tokens["reader"], REPORT, year="2024", court=world["court"])
    assert r.status_code == 200, r.text[:300]
    reader = PdfReader(io.BytesIO(r.content))
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        descriptors = [font.get("/FontDescriptor")]
        descriptors += [d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts", [])]
        embedded = [d.get_object() for d in descriptors if d is not None]
        assert any("/FontFile2" in d for d in embedded), font  # the glyphs travel in the file
    assert not re.search(rb"https?://|/URI\b|/Launch\b|/GoToR\b|/SubmitForm\b", r.content)
    assert not re.search(r"https?://|www\.", text_of(r.content))
