"""The reviewers' queue (GET /review) in a real browser, as the board is tested: a secretary signs
in with a token, sees a member's pending record with its evidence, opens the evidence, approves
one record and declines another with reasons; the queue reads the decisions back."""

import os
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.async_api import expect

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.e2e.test_board import watch
from tests.support import contact

SCORING, LIAISON = URLS["scoring"], URLS["liaison"]
CST = timezone(timedelta(hours=8))
MARKUP = '<img src=x onerror="window.__xss=1">'
WAIT_MS = 90_000


async def seeded(tokens: dict) -> dict[str, str]:
    """A fresh court's branch, two records its member submitted (one with a PNG), a secretary."""
    court, branch, member = new_id("court-rvp"), new_id("rvp"), new_id("m-rvp")
    member_token = dev_issuer.mint(["member"], court, branch, member, 1800)
    auth = {"Authorization": f"Bearer {member_token}"}
    ids = {}
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"name": "审核页面测试支部", "court": court, "members": 2}
        r = await client.put(
            f"{SCORING}/v1/branches/{branch}",
            json=body,
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        assert r.status_code == 200, r.text
        for name, day in (("approve", 4), ("decline", 5)):
            record = {
                **contact(branch, datetime(2024, 4, day, 9, tzinfo=CST), member_id=member),
                "id": new_id("rvp"),
            }
            r = await client.post(f"{LIAISON}/v1/contacts", json=record, headers=auth)
            assert r.status_code == 202, r.text
            ids[name] = r.json()["id"]
        png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
        r = await client.post(
            f"{LIAISON}/v1/contacts/{ids['approve']}/evidence",
            content=png,
            headers={**auth, "content-type": "image/png"},
        )
        assert r.status_code == 202, r.text
    secretary = dev_issuer.mint(["secretary"], court, branch, new_id("sec"), 1800)
    return {**ids, "secretary": secretary, "branch": branch}


@pytest.mark.timeout(300)
async def test_a_secretary_approves_and_declines_in_the_queue(browser, tokens):
    world = await seeded(tokens)

    async def listed() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.get(
                f"{SCORING}/v1/submissions", headers={"Authorization": f"Bearer {world['secretary']}"}
            )

    r = await poll(listed, lambda r: r.status_code == 200 and len(r.json()["items"]) == 2, deadline_s=90)
    assert r.status_code == 200 and len(r.json()["items"]) == 2, r.text

    context = await browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{SCORING}/review")
    await page.fill("#token", world["secretary"])
    await page.click("#sign-in-form button[type=submit]")
    approve_row = page.locator(f'tr[data-id="{world["approve"]}"]')
    decline_row = page.locator(f'tr[data-id="{world["decline"]}"]')
    await expect(approve_row).to_be_visible(timeout=WAIT_MS)
    await expect(approve_row.locator("td.state-pending")).to_be_visible()
    await expect(page.locator("#count")).to_contain_text("2")

    evidence = approve_row.locator("a.evidence")
    await evidence.click()  # read with the token, then offered as a download of the file itself
    await expect(evidence).to_have_attribute("href", re.compile(r"^blob:"), timeout=WAIT_MS)
    await expect(evidence).to_have_attribute("download", re.compile(r"\.png$"))

    await approve_row.locator("input[name=reason]").fill("照片齐全 " + MARKUP)
    await approve_row.locator("button[value=approve]").click()
    await decline_row.locator("input[name=reason]").fill("缺少签到表 no sign-in sheet")
    await decline_row.locator("button[value=decline]").click()

    await page.select_option("#status-filter", "")  # every status: the decisions read back
    await expect(approve_row.locator("td.state-approved")).to_be_visible(timeout=WAIT_MS)
    await expect(decline_row.locator("td.state-declined")).to_be_visible(timeout=WAIT_MS)
    await expect(approve_row).to_contain_text(MARKUP)  # the reason, as text
    assert await page.locator("tbody img").count() == 0 and await page.evaluate("window.__xss") is None
    assert all(u.startswith((SCORING, "blob:")) for u in seen["requests"]), seen["requests"]
    assert not [e for e in seen["errors"] if not re.search(r"favicon", e)], seen["errors"]
    await context.close()
