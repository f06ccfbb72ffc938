"""The board as a court leader works from it, in Chromium at desktop and phone sizes: it opens on
the year with data, shows who is behind, each court at a glance, the candidates as a shortlist,
distinguishable names, rank and trends in the drill-down, honest status, and it fits a phone, a
keyboard, a big screen and a printer; axe-core finds no serious or critical violation.

One fresh court with 2024 data is written once for the module; the demo year is only read."""

import asyncio
import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import axe_playwright_python
import httpx
import openpyxl
import pytest
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader

from tests.conftest import URLS, new_id, poll
from tests.e2e.test_board import ARTIFACTS, LIVE_S, watch
from tests.support import completion, contact, post_batch

SCORING = URLS["scoring"]
CST = timezone(timedelta(hours=8))
AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"  # served from the test, never a CDN
DESKTOP = {"width": 1600, "height": 1000}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
MONTHLY = ("lecture_hall", "branch_committee", "party_group_meeting")
QUARTERLY = ("branch_assembly", "party_lecture", "integrity_theme_day")
PERIOD = "2024-06"


@dataclass
class Court:
    court: str
    twin_a: str  # two branches with the same name
    twin_b: str
    lagging: str  # no meetings at all
    model: str  # every required meeting of 2024 kept: an advanced candidate
    name: str = "看板领导测试法院 Leader test court"


def at(month: int, day: int = 10) -> datetime:
    return datetime(2024, month, day, 10, tzinfo=CST)  # tests write 2024, never 2022 (the demo year)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get(client: httpx.AsyncClient, token: str, path: str, **params: str) -> dict:
    r = await client.get(f"{SCORING}{path}", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
async def court(tokens) -> Court:
    c = Court(new_id("court"), new_id("b"), new_id("b"), new_id("b"), new_id("b"))
    names = {
        c.twin_a: "民一庭党支部",
        c.twin_b: "民一庭党支部",
        c.lagging: "刑二庭党支部",
        c.model: "青年党支部",
    }
    async with httpx.AsyncClient(timeout=60) as client:
        for branch, name in names.items():
            body = {"name": name, "court": c.court, "court_name": c.name, "members": 1}
            r = await client.put(f"{SCORING}/v1/branches/{branch}", json=body, headers=auth(tokens["admin"]))
            assert r.status_code == 200, r.text
        contacts = [
            contact(c.twin_a, at(5), "visit"),
            contact(c.twin_a, at(6), "visit"),
            contact(c.twin_a, at(6, 12), "visit"),
            contact(c.twin_a, at(6, 14), "judicial_suggestion"),
            contact(c.twin_b, at(6), "visit"),
            contact(c.lagging, at(5), "visit"),
            contact(c.model, at(6, 20), "pre_litigation_resolution"),
        ]
        training = [completion(c.twin_a, at(6), "branch_committee", new_id("s"))]
        # The model branch keeps every required meeting of 2024.
        for month in range(1, 13):
            training += [completion(c.model, at(month), k, new_id("s")) for k in MONTHLY]
        for quarter in range(4):
            training += [completion(c.model, at(quarter * 3 + 1), k, new_id("s")) for k in QUARTERLY]
        training.append(completion(c.model, at(1), "integrity_pledge", new_id("s")))
        assert len(await post_batch(client, "liaison", tokens["writer"], contacts)) == len(contacts)
        assert len(await post_batch(client, "training", tokens["writer"], training)) == len(training)

        async def scored() -> dict:
            return await get(client, tokens["reader"], "/v1/board/summary", period=PERIOD)

        def arrived(s: dict) -> bool:
            mine = [x for x in s["courts"] if x["court"] == c.court]
            return (
                bool(mine)
                and mine[0]["figures"]["visits"] == 3
                and mine[0]["figures"]["training_attendances"] >= 4
            )

        found = await poll(scored, arrived, LIVE_S, every_s=1.0)
        assert arrived(found), "the court's records never reached the summary"
        # ... and the year's candidates (computed separately, on their own schedule).
        advanced = await poll(
            lambda: get(client, tokens["reader"], "/v1/advanced-branches", year="2024"),
            lambda a: any(p["branch_id"] == c.model for p in a["per_court"].get(c.court, [])),
            LIVE_S,
            every_s=1.0,
        )
        assert any(p["branch_id"] == c.model for p in advanced["per_court"][c.court])
    return c


async def open_board(browser: Browser, token: str, query: str, viewport: dict) -> tuple[Page, dict]:
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{SCORING}/board{query}#token={token}")
    return page, seen


async def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now."""
    # Evaluated through the driver: the page's own policy (rightly) refuses an injected script tag.
    await page.evaluate(AXE.read_text() + "\n;0")
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


async def test_opens_on_the_year_with_registered_data_and_the_courts_in_the_citys_order(browser, tokens):
    async with httpx.AsyncClient(timeout=30) as client:
        found = await get(client, tokens["reader"], "/v1/board/courts")
    years, current = found["years"], found["current_year"]
    expected = current if current in years or not years else years[0]
    listed = [c["court"] for c in found["courts"] if c["listed"]]
    # The API's order: the city's own list first (the intermediate court leads it), then the rest.
    flags = [c["listed"] for c in found["courts"]]
    assert flags == sorted(flags, reverse=True)
    if listed:
        assert listed[0] == "cz-zy"

    page, seen = await open_board(browser, tokens["reader"], "", DESKTOP)
    await expect(page.locator("#year")).to_have_value(expected)
    options = page.locator("#court > option")
    await expect(options.first).to_have_text("全市 Whole city")
    shown = await page.locator("#court > option").evaluate_all("os => os.slice(1).map(o => o.value)")
    assert shown == listed, "the picker lists the city's courts in its order, first"
    others = await page.locator("#court optgroup option").evaluate_all("os => os.map(o => o.value)")
    assert set(others) == {c["court"] for c in found["courts"] if not c["listed"]}
    assert seen["errors"] == [], seen["errors"]
    await page.context.close()


async def test_an_unknown_court_or_branch_in_the_address_says_so(browser, tokens):
    missing_court, missing_branch = new_id("court"), new_id("b")
    page, _ = await open_board(browser, tokens["reader"], f"?period=2024&court={missing_court}", DESKTOP)
    await expect(page.locator("#error")).to_contain_text(f"No registered court has the id {missing_court}")
    await expect(page.locator("#rows")).to_contain_text("No registered court")
    await page.goto(f"{SCORING}/board?period=2024&branch={missing_branch}")
    await expect(page.locator("#drill")).to_be_visible()
    await expect(page.locator("#drill-body")).to_contain_text(f"No branch {missing_branch}")
    await page.context.close()


async def test_a_leader_sees_who_is_behind_the_court_at_a_glance_and_the_shortlist(browser, tokens, court):
    async with httpx.AsyncClient(timeout=30) as client:
        summary = await get(client, tokens["reader"], "/v1/board/summary", period=PERIOD, court=court.court)
        advanced = await get(client, tokens["reader"], "/v1/advanced-branches", year="2024")
    # Asked for one court, the answer holds that court's figures only (a court-bound reader's view).
    assert [c["court"] for c in summary["courts"]] == [court.court] and summary["city"] is None
    mine = summary["courts"][0]
    assert mine["branches"] == 4 and mine["figures"]["judicial_suggestions"] == 1
    assert mine["figures"]["pre_litigation_resolutions"] == 1
    behind = {b["branch_id"]: b for b in summary["behind"]["branches"] if b["court"] == court.court}
    assert set(behind) == {court.twin_a, court.twin_b, court.lagging}, "the model branch kept every meeting"
    assert all(b["colour"] == "red" for b in behind.values())  # June 2024 is long closed: overdue

    page, seen = await open_board(browser, tokens["reader"], f"?period={PERIOD}&court={court.court}", DESKTOP)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    rows = page.locator("#rows tr[data-branch-id]")
    await expect(rows).to_have_count(3, timeout=LIVE_S * 1000)  # the lagging branch scored nothing in June

    # Same names told apart by their id; the court beside each.
    twins = page.locator("#rows button.branch", has_text="民一庭党支部")
    await expect(twins).to_have_count(2)
    assert len(set(await twins.all_text_contents())) == 2
    twin_court = page.locator(f'#rows tr[data-branch-id="{court.twin_a}"] td.court')
    await expect(twin_court).to_contain_text(court.name)

    # Who is behind: the three red branches under the court, by kind too; one opens the drill-down.
    panel = page.locator("#behind")
    for branch in behind:
        await expect(panel.locator(f'li[data-branch-id="{branch}"] .dot.red')).to_be_visible()
    await expect(panel.locator(".by-kind li", has_text="支委会")).to_contain_text("2 个支部")
    await expect(panel.locator(".by-kind li", has_text="党小组会")).to_contain_text("3 个支部")
    await expect(page.locator("#behind-caption")).to_contain_text("红 red 3")

    # The court at a glance, as the API counts it, linking to its ranking.
    row = page.locator(f'#summary tr[data-court="{court.court}"]')
    cells = await row.locator("td").all_text_contents()
    assert (
        cells[0] == (f"{mine['scored']}/4" if mine["scored"] != 4 else "4")
        and cells[1] == f"{mine['average']:.2f}"
        and cells[2] == f"{mine['best']['total']:.2f}"
    )
    assert cells[4:] == ["3", "1", "1", "0.0", str(mine["figures"]["training_attendances"])]

    # The shortlist: its own bounded box, the rule in numbers, the quota arithmetic, courts by names.
    rule = page.locator("#advanced-rule")
    await expect(rule).to_contain_text("≥ 80%")
    await expect(rule).to_contain_text("前 20%")
    await expect(rule).to_contain_text("前 10%")
    await expect(rule).to_contain_text("⌈20% × 本院 4 个已登记支部⌉")
    await expect(rule).to_contain_text(f"{summary['advanced']['registered']} 个已登记支部")
    pick = page.locator(f'#advanced li[data-branch-id="{court.model}"]').first
    await expect(pick).to_contain_text("青年党支部")
    await expect(pick.locator(".where")).to_contain_text(court.name)
    assert len(advanced["per_court"][court.court]) == 1
    box = await page.locator(".advanced-panel").bounding_box()
    assert box and box["height"] < 1000, "the candidates keep to a box of their own"
    assert await page.locator("#advanced").evaluate("e => getComputedStyle(e).overflowY") == "auto"
    # Loaded after the ranking: the stream was asked for first.
    stream = next(i for i, u in enumerate(seen["requests"]) if "/v1/rankings/stream" in u)
    candidates = next(i for i, u in enumerate(seen["requests"]) if "/v1/advanced-branches" in u)
    assert stream < candidates

    # The drill-down from the behind list: rank in court and city, court average, attendances.
    await panel.locator(f'li[data-branch-id="{court.twin_a}"] button.branch').click()
    drill = page.locator("#drill")
    await expect(drill).to_be_visible()
    async with httpx.AsyncClient(timeout=30) as client:
        standing = await get(client, tokens["reader"], f"/v1/board/branches/{court.twin_a}", period=PERIOD)
    facts = drill.locator(".facts")
    # (The drill-down's three reads can take a while on a loaded machine.)
    court_rank = f"{standing['court_rank']} / {standing['court_ranked']}"
    await expect(facts).to_contain_text(court_rank, timeout=60_000)
    await expect(facts).to_contain_text(f"{standing['city_rank']} / {standing['city_ranked']}")
    await expect(facts).to_contain_text(f"{standing['court_average']:.2f}")
    await expect(drill.locator("td", has_text="人次 attendances").first).to_be_visible()
    await expect(drill.locator("td", has_text="场 sessions held").first).to_be_visible()
    await expect(drill.locator(".chip").first).to_have_attribute("title", re.compile("attendances"))
    await expect(drill.locator("svg.trend-chart polyline.now")).to_have_count(1, timeout=30_000)
    assert "branch=" in page.url, "the open branch is part of the deep link"
    await page.keyboard.press("Escape")
    await expect(drill).to_be_hidden()

    # The court's trend when a court is chosen; rank moves against the previous period.
    await expect(page.locator("#court-trend svg.trend-chart")).to_be_visible(timeout=30_000)
    await expect(page.locator(f'#rows tr[data-branch-id="{court.twin_b}"] .trend')).to_have_text("新")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "board-leader-desktop.png", full_page=True)

    assert await axe_violations(page) == []
    assert seen["errors"] == [], seen["errors"]
    assert all(u.startswith(SCORING) for u in seen["requests"]), "nothing from elsewhere"
    await page.context.close()


async def test_status_says_idle_until_updates_flow_then_live(browser, tokens, court):
    page, seen = await open_board(browser, tokens["reader"], f"?period=2024&court={court.court}", DESKTOP)
    status = page.locator("#status")
    await expect(status).to_contain_text("Idle since", timeout=LIVE_S * 1000)
    await expect(page.locator(".as-of-note")).to_contain_text("newest record in this view")
    async with httpx.AsyncClient(timeout=30) as client:
        await post_batch(client, "liaison", tokens["writer"], [contact(court.lagging, at(7), "visit")])
    await expect(status).to_have_text("实时 Live", timeout=LIVE_S * 1000)
    assert seen["errors"] == [], seen["errors"]
    await page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, NARROW], ids=["390", "360"])
async def test_the_board_fits_a_phone_and_a_keyboard(browser, tokens, court, viewport):
    page, seen = await open_board(
        browser, tokens["reader"], f"?period={PERIOD}&court={court.court}", viewport
    )
    rows = page.locator("#rows tr[data-branch-id]")
    await expect(rows).to_have_count(3, timeout=LIVE_S * 1000)
    await expect(page.locator("#summary table")).to_be_visible(timeout=LIVE_S * 1000)
    await no_horizontal_scroll(page)
    # Every score column in view: the total and the four dimensions.
    for col in ("total", "service", "trial", "people", "team"):
        box = await rows.first.locator(f'td[data-col="{col}"]').bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], col
    height = (await rows.first.bounding_box() or {}).get("height", 999)
    assert height < 120, f"a ranking row is {height} px tall"
    await expect(rows.first.locator(".where")).to_be_visible()  # the court under the name

    # The skip link is the first Tab stop and lands on the ranking.
    await page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_visible()
    await page.keyboard.press("Enter")
    await expect(page.locator("#ranking-panel")).to_be_focused()

    if viewport is PHONE:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=ARTIFACTS / "board-leader-phone.png")
        assert await axe_violations(page) == []
    assert seen["errors"] == [], seen["errors"]
    await page.context.close()


async def test_big_screen_and_print(browser, tokens, court):
    page, seen = await open_board(browser, tokens["reader"], f"?period={PERIOD}&court={court.court}", DESKTOP)
    await expect(page.locator("#rows tr[data-branch-id]")).to_have_count(3, timeout=LIVE_S * 1000)
    button = page.locator("#big-screen")
    await button.click()
    await expect(page.locator("body")).to_have_class(re.compile(r"\bbig\b"))
    await expect(button).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#filters")).to_be_hidden()
    await button.click()
    await expect(page.locator("body")).not_to_have_class(re.compile(r"\bbig\b"))
    await expect(page.locator("#filters")).to_be_visible()

    await page.emulate_media(media="print")
    await expect(page.locator("#filters")).to_be_hidden()
    await expect(page.locator("#sign-out")).to_be_hidden()
    assert await page.locator("#advanced").evaluate("e => getComputedStyle(e).overflowY") == "visible"
    assert seen["errors"] == [], seen["errors"]
    await page.context.close()


async def test_the_download_buttons_hand_over_the_views_ranking_and_the_years_report(browser, tokens, court):
    """CSV and XLSX of the ranking shown and the year's PDF report, fetched with the viewer's token
    (never in a URL) and saved under the server's Chinese title; each file read back."""
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{SCORING}/board?period={PERIOD}&court={court.court}#token={tokens['reader']}")
    await expect(page.locator("#rows tr[data-branch-id]")).to_have_count(3, timeout=LIVE_S * 1000)
    async with httpx.AsyncClient(timeout=60) as client:
        ranking = await get(client, tokens["reader"], "/v1/rankings", period=PERIOD, court=court.court)
    ids = [row["branch_id"] for row in ranking["rows"]]

    async def download(button: str) -> tuple[str, bytes]:
        async with page.expect_download(timeout=LIVE_S * 1000) as info:
            await page.locator(button).click()
        saved = await info.value
        return saved.suggested_filename, await asyncio.to_thread(Path(await saved.path()).read_bytes)

    name, body = await download("#download-csv")
    assert name == f"党支部排名-{PERIOD}-总分-{court.court}.csv"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["名次 Rank", "支部编号 Branch ID"] and [r[1] for r in rows[1:]] == ids
    name, body = await download("#download-xlsx")
    assert name == f"党支部排名-{PERIOD}-总分-{court.court}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == ids
    await expect(page.locator("#download-status")).to_contain_text("已下载 Downloaded")

    name, body = await download("#download-pdf")  # the year of the period shown, the court shown
    assert name.endswith("-2024年度党支部考评报告.pdf") and name.startswith("看板领导测试法院")
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages))
    assert "看板领导测试法院" in text and "2024年度党支部考评报告" in text
    assert "民一庭党支部" in text and "青年党支部" in text
    sent = [url.split("#")[0] for url in seen["requests"]]  # the fragment never leaves the browser
    assert not any(tokens["reader"] in url for url in sent), "the token must never be in an address"
    assert seen["errors"] == [], seen["errors"]
    await context.close()
