"""The leaders' board (GET /board) in a real browser: Debian's chromium driven by Playwright, against
the running system. A branch of a fresh court shows up, then its score moves live, without a reload."""

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import ROOT, URLS, new_id, poll
from tests.support import contact

ARTIFACTS = ROOT / "var" / "test-artifacts"
SCORING = URLS["scoring"]
CST = timezone(timedelta(hours=8))
JUNE = datetime(2024, 6, 3, 10, tzinfo=CST)  # tests write 2024, never 2022 (the demo year)
MARKUP = '<img src=x onerror="window.__xss=1"><b>标记</b>'
# intake → Kafka → worker → MongoDB → stream (1 s ticks) → page: seconds when the machine is idle,
# minutes when the whole suite (or a benchmark) loads FerretDB.
LIVE_S = 150


async def register(client: httpx.AsyncClient, admin: str, branch: str, court: str, name: str) -> None:
    body = {"name": name, "court": court, "court_name": "看板测试法院 Board test court", "members": 1}
    r = await client.put(
        f"{SCORING}/v1/branches/{branch}", json=body, headers={"Authorization": f"Bearer {admin}"}
    )
    assert r.status_code == 200, r.text


async def post_contact(client: httpx.AsyncClient, writer: str, record: dict) -> None:
    r = await client.post(
        f"{URLS['liaison']}/v1/contacts", json=record, headers={"Authorization": f"Bearer {writer}"}
    )
    assert r.status_code == 202, r.text


async def api_totals(client: httpx.AsyncClient, reader: str, court: str) -> dict[str, float]:
    r = await client.get(
        f"{SCORING}/v1/rankings",
        params={"period": "2024", "court": court},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert r.status_code == 200, r.text
    return {row["branch_id"]: row["scores"]["total"] for row in r.json()["rows"]}


def watch(page: Page) -> dict[str, list[str]]:
    """Collect every request, console error and uncaught exception of a page."""
    seen: dict[str, list[str]] = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


@pytest.mark.timeout(4 * LIVE_S)
async def test_board_shows_a_new_branch_and_follows_its_score_live(browser, tokens):
    court, branch, marked = new_id("court"), new_id("b"), new_id("b")
    async with httpx.AsyncClient(timeout=30) as client:
        await register(client, tokens["admin"], branch, court, "看板测试支部 Board test branch")
        await register(client, tokens["admin"], marked, court, MARKUP)
        await post_contact(client, tokens["writer"], contact(branch, JUNE, "visit"))
        await post_contact(client, tokens["writer"], contact(marked, JUNE, "visit"))
        totals = await poll(
            lambda: api_totals(client, tokens["reader"], court), lambda t: {branch, marked} <= set(t), LIVE_S
        )
        assert branch in totals, "the first record never reached the ranking"

        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        page = await context.new_page()
        seen = watch(page)
        await page.goto(f"{SCORING}/board?period=2024&court={court}#token={tokens['reader']}")
        row = page.locator(f'tbody tr[data-branch-id="{branch}"]')
        total = row.locator('td[data-col="total"]')
        await expect(row).to_be_visible(timeout=LIVE_S * 1000)
        await expect(total).to_have_text(f"{totals[branch]:.2f}")
        await expect(page.locator("#court")).to_have_value(court)
        await expect(page.locator("#year")).to_have_value("2024")
        await expect(page.locator("#as-of")).not_to_have_text("—")
        assert "token" not in page.url, "the token must leave the address bar"

        # Data lands as text: the branch named with markup shows it literally and runs nothing.
        # (Earlier runs registered the same name: then the board adds the id to tell them apart.)
        await expect(page.locator(f'tr[data-branch-id="{marked}"] button.branch')).to_have_text(
            re.compile("^" + re.escape(MARKUP) + f"( · {marked})?$")
        )
        assert await page.locator("#rows img, #rows b, #bars img").count() == 0
        assert await page.evaluate("window.__xss") is None

        await expect(page.locator("#advanced h3").first).to_be_visible(timeout=LIVE_S * 1000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=ARTIFACTS / "board.png")

        loaded_at = await page.evaluate("window.boardLoadedAt")
        await page.evaluate("window.__sameDocument = true")
        await post_contact(client, tokens["writer"], contact(branch, JUNE, "judicial_suggestion"))
        moved = await poll(
            lambda: api_totals(client, tokens["reader"], court),
            lambda t: t.get(branch) != totals[branch],
            LIVE_S,
        )
        assert moved[branch] != totals[branch], "the second record never reached the ranking"
        await expect(total).to_have_text(f"{moved[branch]:.2f}", timeout=LIVE_S * 1000)
        await expect(row).to_have_class(re.compile(r"\bchanged\b"))  # highlighted for a few seconds

        assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        assert await page.evaluate("window.boardLoadedAt") == loaded_at
        assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1

        # The drill-down: the branch's breakdown by kind and its compliance dots.
        await row.locator("button.branch").click()
        drill = page.locator("#drill")
        await expect(drill).to_be_visible()
        await expect(drill.locator("h2")).to_contain_text("看板测试支部 Board test branch")
        await expect(drill.locator("td", has_text="司法建议")).to_be_visible(timeout=10_000)
        assert await drill.locator(".chip .dot.red, .chip .dot.yellow, .chip .dot.green").count() > 0

        assert all(u.startswith(SCORING) for u in seen["requests"]), "the board loads nothing from elsewhere"
        assert seen["errors"] == [], seen["errors"]
        await context.close()


async def test_board_without_a_token_asks_for_one_and_requests_no_data(browser):
    context = await browser.new_context()
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{SCORING}/board")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#sign-in")).to_contain_text("no data without a valid reader token")
    await expect(page.locator("#board")).to_be_hidden()
    await page.wait_for_load_state("networkidle")
    assert not [u for u in seen["requests"] if "/v1/" in u], seen["requests"]

    await page.goto(f"{SCORING}/board#token=not-a-valid-token")
    await expect(page.locator("#sign-in-error")).to_contain_text("The token was not accepted")
    await expect(page.locator("#board")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    await context.close()


async def test_board_is_served_with_a_strict_content_security_policy():
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{SCORING}/board")
        script = await client.get(f"{SCORING}/board/static/js/main.js")
        missing = await client.get(f"{SCORING}/board/static/../app.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    directives = (d.partition(" ") for d in page.headers["content-security-policy"].split("; "))
    policy = {name: value for name, _, value in directives}
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text), "no inline script"
    assert not re.search(r"https?://", page.text), "no resource from elsewhere"
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
