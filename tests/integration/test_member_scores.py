"""Members' scores against the running system: two members' records of a fresh branch, their
points and ranking, a void taking points away, and a court-bound reader kept to its court."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.support import contact, deployment, post_batch

CST = timezone(timedelta(hours=8))
MARCH = datetime(2024, 3, 12, 10, tzinfo=CST)
SCORING = URLS["scoring"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def branch(tokens):
    """A registered branch of a fresh court: m1 made 3 visits, m2 a visit, a suggestion and 2 h."""
    court, branch_id = new_id("court"), new_id("mb")
    m1, m2 = new_id("m1"), new_id("m2")
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"name": f"支部 {branch_id}", "court": court, "members": 2}
        r = await client.put(f"{SCORING}/v1/branches/{branch_id}", json=body, headers=bearer(tokens["admin"]))
        assert r.status_code == 200, r.text
        visits = [contact(branch_id, MARCH + timedelta(hours=i), member_id=m1) for i in range(3)]
        visits += [
            contact(branch_id, MARCH, member_id=m2),
            contact(branch_id, MARCH, "judicial_suggestion", member_id=m2),
        ]
        ids = await post_batch(client, "liaison", tokens["writer"], visits)
        hours = [deployment(branch_id, MARCH, hours=2, member_id=m2)]
        ids += await post_batch(client, "volunteer", tokens["writer"], hours)
    assert len(ids) == 6
    return {"court": court, "id": branch_id, "m1": m1, "m2": m2, "ids": ids}


async def read(token: str, path: str, **params) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(f"{SCORING}{path}", params=params, headers=bearer(token))


async def test_members_are_scored_ranked_and_a_void_takes_points_away(tokens, branch):
    m1, m2, b = branch["m1"], branch["m2"], branch["id"]
    people = 2 * 0.5  # 2 hours of the volunteer team at 0.5 a hour

    async def ranked(**params) -> dict:
        r = await read(tokens["reader"], f"/v1/branches/{b}/members", **params)
        assert r.status_code == 200, r.text
        return r.json()

    def both_in(answer: dict) -> bool:
        rows = {row["member_id"]: row for row in answer["members"]}
        return set(rows) == {m1, m2} and rows[m2]["points"]["people"] == people

    answer = await poll(lambda: ranked(period="2024"), both_in, deadline_s=60)
    assert both_in(answer), answer
    rows = {row["member_id"]: row for row in answer["members"]}
    assert rows[m1]["points"]["service"] == 3.0 and rows[m2]["points"]["service"] == 4.0  # 1 + 3
    assert [row["member_id"] for row in answer["members"]] == [m2, m1] and answer["dimension"] == "total"
    by_service = await ranked(period="2024-03", dimension="service")
    assert [(row["rank"], row["score"]) for row in by_service["members"]] == [(1, 4.0), (2, 3.0)]
    by_people = await ranked(period="2024-Q1", dimension="people")
    assert [(row["rank"], row["member_id"]) for row in by_people["members"]] == [(1, m2), (2, m1)]

    r = await read(tokens["reader"], f"/v1/members/{m2}/score", period="2024-03")
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["dimensions"]["service"]["points"] == 4.0 and mine["dimensions"]["people"]["points"] == people
    assert {(k["stream"], k["kind"], k["count"]) for k in mine["kinds"]} == {
        ("liaison", "visit", 1),
        ("liaison", "judicial_suggestion", 1),
        ("volunteer", "tianping_volunteer_team", 1),
    }
    assert [x["branch_id"] for x in mine["branches"]] == [b] and mine["branches"][0]["court"] == branch[
        "court"
    ]
    assert mine["total"] == mine["branches"][0]["points"]["total"] > 0
    empty = (await read(tokens["reader"], f"/v1/members/{m2}/score", period="2024-04")).json()
    assert empty["total"] == 0 and empty["kinds"] == [] and empty["branches"] == []

    async with httpx.AsyncClient(timeout=30) as client:
        for service, resource, event_id in [
            ("liaison", "contacts", branch["ids"][0]),  # one of m1's visits
            ("liaison", "contacts", branch["ids"][3]),  # all of m2's records
            ("liaison", "contacts", branch["ids"][4]),
            ("volunteer", "deployments", branch["ids"][5]),
        ]:
            r = await client.post(
                f"{URLS[service]}/v1/{resource}/{event_id}:void",
                json={"reason": "entered by mistake"},
                headers=bearer(tokens["writer"]),
            )
            assert r.status_code == 202, r.text

    def voided(answer: dict) -> bool:
        return [(row["member_id"], row["points"]["service"]) for row in answer["members"]] == [(m1, 2.0)]

    assert voided(await poll(lambda: ranked(period="2024"), voided, deadline_s=60))
    gone = await read(tokens["reader"], f"/v1/members/{m2}/score", period="2024")
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")


async def test_a_court_bound_reader_sees_members_of_its_own_courts_branches_only(tokens, branch):
    m1, b = branch["m1"], branch["id"]

    async def scored() -> httpx.Response:
        return await read(tokens["reader"], f"/v1/members/{m1}/score", period="2024")

    assert (await poll(scored, lambda r: r.status_code == 200, deadline_s=60)).status_code == 200
    own = dev_issuer.mint(["reader"], branch["court"], None, None, 600)
    other = dev_issuer.mint(["reader"], new_id("court"), None, None, 600)
    mine = await read(own, f"/v1/members/{m1}/score", period="2024")
    assert mine.status_code == 200 and mine.json()["court"] == branch["court"], mine.text
    assert [x["branch_id"] for x in mine.json()["branches"]] == [b]
    assert (await read(own, f"/v1/branches/{b}/members", period="2024")).status_code == 200
    assert (await read(other, f"/v1/branches/{b}/members", period="2024")).status_code == 403
    assert (
        await read(other, f"/v1/members/{m1}/score", period="2024", court=branch["court"])
    ).status_code == 403
    assert (
        await read(other, f"/v1/members/{m1}/score", period="2024")
    ).status_code == 404  # not in its court
    unknown = await read(tokens["reader"], f"/v1/branches/{new_id('nobody')}/members", period="2024")
    assert unknown.status_code == 404
