"""Review (审核) and evidence (佐证材料) end to end against the running system: a member's record is
pending and does not count until its branch's secretary approves it; declined it stops counting,
approved again it counts; a voided record cannot be approved; evidence is checked by its content
and size, and read only by the record's reviewers; GET /v1/submissions shows each caller its part."""

import os
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.support import contact

SCORING, LIAISON = URLS["scoring"], URLS["liaison"]
CST = timezone(timedelta(hours=8))
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
PDF = b"%PDF-1.7\n" + os.urandom(64)
EXE = b"MZ\x90\x00" + os.urandom(64)  # a Windows program, renamed .png and declared image/png


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def org(tokens) -> dict[str, str]:
    """Two fresh courts with a branch each; tokens for a member, a clerk and the secretary of A's
    branch, and for B's court admin."""
    a, b, a1, b1, member = (new_id(p) for p in ("court-rv", "court-rv", "rv-a", "rv-b", "m-rv"))
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, court in ((a1, a), (b1, b)):
            body = {"name": "审核测试支部", "court": court, "members": 3}
            r = await client.put(
                f"{SCORING}/v1/branches/{branch}", json=body, headers=bearer(tokens["admin"])
            )
            assert r.status_code == 200, r.text
    return {
        "a": a, "b": b, "a1": a1, "b1": b1, "member_id": member,
        "member": dev_issuer.mint(["member"], a, a1, member, 1800),
        "clerk": dev_issuer.mint(["clerk"], a, a1, new_id("clerk"), 1800),
        "secretary": dev_issuer.mint(["secretary"], a, a1, new_id("sec"), 1800),
        "admin_a": dev_issuer.mint(["court_admin"], a, None, new_id("adm"), 1800),
        "admin_b": dev_issuer.mint(["court_admin"], b, None, new_id("adm"), 1800),
    }  # fmt: skip


async def post(path: str, token: str, body: dict | None = None, base: str = LIAISON) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{base}{path}", json=body, headers=bearer(token))


async def submit(org: dict, token: str, day: int) -> str:
    record = {**contact(org["a1"], datetime(2024, 3, day, 9, tzinfo=CST), member_id=org["member_id"])}
    r = await post("/v1/contacts", token, {**record, "id": new_id("rv")})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def decide(org: dict, event_id: str, verb: str, token: str | None = None) -> httpx.Response:
    return await post(
        f"/v1/contacts/{event_id}:{verb}", token or org["secretary"], {"reason": f"{verb} 测试"}
    )


async def visits(org: dict, tokens: dict) -> int:
    """The visits the branch's March counts (0 before anything counts)."""
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(
            f"{SCORING}/v1/branches/{org['a1']}/score",
            params={"period": "2024-03"},
            headers=bearer(tokens["reader"]),
        )
    if r.status_code == 404:
        return 0
    assert r.status_code == 200, r.text
    return sum(line["count"] for line in r.json()["kinds"] if line["kind"] == "visit")


async def settles_at(org: dict, tokens: dict, expected: int) -> None:
    async def probe() -> int:
        return await visits(org, tokens)

    assert await poll(probe, lambda n: n == expected, deadline_s=60) == expected


async def test_a_member_s_record_counts_only_while_approved(org, tokens):
    pending = await submit(org, org["member"], 5)
    control = await submit(org, tokens["writer"], 6)  # a service's record counts at once
    await settles_at(
        org, tokens, 1
    )  # the control is folded, and the pending record (before it) is not counted
    r = await decide(org, pending, "approve", org["member"])
    assert r.status_code == 403, r.text  # a member reviews nothing
    r = await decide(org, pending, "approve")
    assert r.status_code == 202, r.text
    await settles_at(org, tokens, 2)
    assert (await decide(org, pending, "decline")).status_code == 202
    await settles_at(org, tokens, 1)
    assert (
        await decide(org, pending, "approve", org["admin_a"])
    ).status_code == 202  # declined, then approved
    await settles_at(org, tokens, 2)
    r = await decide(org, control, "approve")
    assert r.status_code == 409 and "not submitted for review" in r.json()["detail"], r.text
    r = await decide(org, pending, "approve", org["admin_b"])
    assert r.status_code == 403, r.text  # another court's admin


async def test_a_clerk_s_record_declined_never_counts_and_a_voided_one_cannot_be_approved(org, tokens):
    declined = await submit(org, org["clerk"], 7)
    voided = await submit(org, org["member"], 8)
    assert (await decide(org, declined, "decline")).status_code == 202
    r = await post(f"/v1/contacts/{voided}:void", org["member"], {"reason": "entered twice"})
    assert r.status_code == 202, r.text  # a pending record may be voided
    r = await decide(org, voided, "approve")
    assert r.status_code == 409 and "voided" in r.json()["detail"], r.text
    assert (await decide(org, new_id("nothing"), "approve")).status_code == 404

    async def listed() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.get(f"{SCORING}/v1/submissions", headers=bearer(org["secretary"]))

    def shows_both(r: httpx.Response) -> bool:
        found = {i["id"]: i["status"] for i in r.json()["items"]} if r.status_code == 200 else {}
        return found.get(declined) == "declined" and found.get(voided) == "voided"

    r = await poll(listed, shows_both, deadline_s=60)
    assert shows_both(r), r.text
    assert all(i["branch_id"] == org["a1"] for i in r.json()["items"])


async def submissions(token: str, **params: str) -> httpx.Response:
    async def probe() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.get(f"{SCORING}/v1/submissions", params=params, headers=bearer(token))

    return await poll(probe, lambda r: r.status_code != 503, deadline_s=90)


async def test_submissions_show_each_caller_its_own_part(org, tokens):
    mine = await submit(org, org["member"], 9)
    other = dev_issuer.mint(["member"], org["a"], org["a1"], new_id("m-other"), 600)

    async def pending_of(token: str) -> set[str]:
        r = await submissions(token, status="pending")
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    async def probe() -> set[str]:
        return await pending_of(org["member"])

    assert mine in await poll(probe, lambda ids: mine in ids, deadline_s=60)
    assert mine not in await pending_of(other)  # a member sees their own only
    assert mine in await pending_of(org["secretary"]) and mine in await pending_of(org["admin_a"])
    assert mine not in await pending_of(org["admin_b"])
    assert (await submissions(org["admin_b"], branch=org["a1"])).status_code == 403
    assert (await submissions(org["secretary"], court=org["b"])).status_code == 403
    assert (await submissions(tokens["reader"])).status_code == 403  # no reviewer, no submitter


async def upload(event_id: str, token: str, content: bytes, declared: str = "image/png") -> httpx.Response:
    headers = {**bearer(token), "content-type": declared}
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(
            f"{LIAISON}/v1/contacts/{event_id}/evidence", content=content, headers=headers
        )


async def read(event_id: str, sha256: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.get(f"{LIAISON}/v1/contacts/{event_id}/evidence/{sha256}", headers=bearer(token))


async def test_evidence_is_checked_by_content_and_read_only_by_reviewers(org, tokens):
    record = await submit(org, org["member"], 10)
    png = await upload(record, org["member"], PNG, declared="application/octet-stream")
    assert png.status_code == 202 and png.json()["media_type"] == "image/png", png.text
    pdf = await upload(record, org["member"], PDF, declared="image/png")
    assert pdf.status_code == 202 and pdf.json()["media_type"] == "application/pdf", pdf.text
    assert (await upload(record, org["member"], PNG)).json()["duplicate"] is True
    exe = await upload(record, org["member"], EXE)
    assert exe.status_code == 415, exe.text
    big = await upload(record, org["member"], b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024))
    assert big.status_code == 413, big.text
    sha = png.json()["sha256"]
    got = await read(record, sha, org["secretary"])
    assert got.status_code == 200 and got.content == PNG, got.text[:200]
    assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
    assert (await read(record, sha, org["admin_a"])).status_code == 200
    assert (await read(record, sha, tokens["admin"])).status_code == 200  # a city-wide admin
    for token in (org["admin_b"], org["member"], tokens["writer"]):
        r = await read(record, sha, token)
        assert r.status_code == 403, r.text
    assert (await read(record, "0" * 64, org["secretary"])).status_code == 404
    r = await submissions(org["secretary"], branch=org["a1"])

    def listed(r: httpx.Response) -> set[str]:
        return {e["sha256"] for i in r.json()["items"] if i["id"] == record for e in i["evidence"]}

    async def probe() -> httpx.Response:
        return await submissions(org["secretary"], branch=org["a1"])

    r = await poll(probe, lambda r: len(listed(r)) == 2, deadline_s=60)
    assert listed(r) == {sha, pdf.json()["sha256"]}


async def test_a_record_holds_at_most_five_files(org):
    record = await submit(org, org["member"], 11)
    for i in range(5):
        r = await upload(record, org["member"], PNG + bytes([i]))
        assert r.status_code == 202, r.text
    r = await upload(record, org["member"], PNG + b"six")
    assert r.status_code == 409 and "at most 5" in r.json()["detail"], r.text
