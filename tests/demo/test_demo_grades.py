"""The demo year's members graded (政治素质考察) as the issue asks of /v1/grades?year=2022, and the
excellent places per court with their arithmetic. Scoring is asynchronous: poll."""

from collections import Counter

import httpx
import pytest

from tests.conftest import URLS, poll
from tests.demo.test_demo_loaded import DEADLINE_S, DEMO_COURTS
from tools.demo.city import build_city

MEMBERS = {m.member_id for m in build_city().members}


@pytest.fixture
async def get(tokens):
    async with httpx.AsyncClient(base_url=URLS["scoring"], timeout=60) as client:

        async def get(path: str, **params: object) -> dict:
            r = await client.get(path, params=params, headers={"Authorization": f"Bearer {tokens['reader']}"})
            assert r.status_code == 200, r.text
            return r.json()

        yield get


async def test_the_2022_grades_spread_as_the_issue_asks(get):
    async def demo_rows() -> list[dict]:
        rows = (await get("/v1/grades", year="2022"))["members"]
        return [r for r in rows if r["member_id"] in MEMBERS]

    def examined(rows: list[dict]) -> bool:  # every member, with the ballots and appraisal scored
        return {r["member_id"] for r in rows} == MEMBERS and all(r["appraisals"] for r in rows)

    rows = await poll(demo_rows, examined, deadline_s=DEADLINE_S, every_s=2)
    grades = Counter(r["grade"] for r in rows)
    share = {g: grades[g] / len(rows) for g in ("good", "fairly_good", "average", "poor")}
    assert 0.55 <= share["good"] <= 0.70, grades
    assert 0.20 <= share["fairly_good"] <= 0.35, grades
    assert 0.03 <= share["average"] <= 0.10, grades
    assert share["poor"] <= 0.02, grades
    assert all(r["label"] in ("好", "较好", "一般", "较差") and r["reasons"] for r in rows)


async def test_the_2022_excellent_places_show_their_arithmetic_per_court(get):
    answer = await get("/v1/excellent", year="2022")
    courts = {c: v for c, v in answer["courts"].items() if c in DEMO_COURTS}
    assert courts.keys() == DEMO_COURTS.keys()
    for court in courts.values():
        for pool in court["pools"]:
            assert pool["arithmetic"].startswith("ceil(") and pool["arithmetic"].endswith(
                f"= {pool['quota']}"
            )
            assert len(pool["places"]) >= min(pool["quota"], pool["candidates"])
    assert sum(c["places"] for c in courts.values()) > 0.1 * len(MEMBERS)
