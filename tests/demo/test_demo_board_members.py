"""The board's drill-down of a demo 2022 branch, in Chromium at 360 px: the branch's members ranked
with their points and 政治素质 grade, member ids and no name for a reader's token. Here and not in
tests/e2e: the suite loads the demo year after the other tests. Scoring is asynchronous: poll."""

import httpx
from playwright.async_api import expect

from tests.conftest import poll
from tests.demo.test_demo_loaded import DEADLINE_S
from tests.e2e.test_board import ARTIFACTS
from tests.e2e.test_board_leader import NARROW, axe_violations, get, no_horizontal_scroll, open_board

DEMO_BRANCH = "cz-zy-lian"  # 立案庭党支部 of the demo year: 17 members, graded from their ballots


async def test_the_drill_down_lists_a_demo_branchs_members_with_score_and_grade_and_no_name(browser, tokens):
    async with httpx.AsyncClient(timeout=60) as client:

        async def answers() -> tuple[dict, dict]:
            ranked = await get(client, tokens["reader"], f"/v1/branches/{DEMO_BRANCH}/members", period="2022")
            return ranked, await get(client, tokens["reader"], "/v1/grades", year="2022", branch=DEMO_BRANCH)

        def scored(found: tuple[dict, dict]) -> bool:  # every member with points and an examined grade
            ranked, graded = found
            return (
                {m["member_id"] for m in ranked["members"]}
                == {g["member_id"] for g in graded["members"] if g["appraisals"]}
                != set()
            )

        ranked, graded = await poll(answers, scored, deadline_s=DEADLINE_S, every_s=2)
        ids = [m["member_id"] for m in ranked["members"]]
        names = [(await get(client, tokens["admin"], f"/v1/members/{m}"))["name"] for m in ids]
    assert len(ids) >= 10 and all(names), "is the demo year (with its member registry) loaded?"
    labels = {g["member_id"]: g["label"] for g in graded["members"]}

    page, seen = await open_board(browser, tokens["reader"], f"?period=2022&branch={DEMO_BRANCH}", NARROW)
    drill = page.locator("#drill")
    await expect(drill).to_be_visible()
    members = drill.locator(".drill-members")
    await expect(members.locator("h3")).to_contain_text("党员 Members")
    await expect(members.locator("thead")).to_contain_text("政治素质")
    rows = members.locator("tbody tr")
    await expect(rows).to_have_count(len(set(ids) | labels.keys()), timeout=60_000)
    # In the API's order: the best first, each with its total and its grade's Chinese label.
    first = ranked["members"][0]
    await expect(rows.first.locator("td.member")).to_have_text(first["member_id"])
    await expect(rows.first.locator("td.num").nth(1)).to_have_text(f"{first['points']['total']:.2f}")
    await expect(rows.first.locator("td.grade")).to_contain_text(labels[first["member_id"]])
    shown = await members.inner_text()
    assert all(m in shown for m in ids)
    assert not [n for n in names if n in shown], "a reader's token sees no member's name"
    assert not [n for n in names if n in await page.content()]
    await no_horizontal_scroll(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await members.scroll_into_view_if_needed()
    await page.screenshot(path=ARTIFACTS / "board-drill-members-360.png")
    assert await axe_violations(page) == []
    assert seen["errors"] == [], seen["errors"]
    await page.context.close()
