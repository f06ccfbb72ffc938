"""A branch's members ranked (GET /v1/branches/{id}/members) carry a member's name only for whom
may see it: an admin of the court sees it, a reader's answer holds none."""

from datetime import datetime, timedelta, timezone

import httpx

from tests.conftest import URLS, new_id, poll
from tests.support import contact, post_batch

CST = timezone(timedelta(hours=8))
SCORING = URLS["scoring"]
NAME = "名字测试甲"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_reader_gets_no_name_an_admin_of_the_court_does(tokens):
    court, branch, member = new_id("court"), new_id("nb"), new_id("m")
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        admin = bearer(tokens["admin"])
        body = {"name": f"支部 {branch}", "court": court, "members": 1}
        assert (await client.put(f"/v1/branches/{branch}", json=body, headers=admin)).status_code == 200
        body = {"name": NAME, "branch_id": branch, "role": "member", "joined": "2024-01-01"}
        r = await client.put(f"/v1/members/{member}", json=body, headers=admin)
        assert r.status_code == 200, r.text
        visit = contact(branch, datetime(2024, 4, 9, 10, tzinfo=CST), member_id=member)
        assert len(await post_batch(client, "liaison", tokens["writer"], [visit])) == 1

        async def ranked(token: str) -> dict:
            r = await client.get(
                f"/v1/branches/{branch}/members", params={"period": "2024"}, headers=bearer(token)
            )
            assert r.status_code == 200, r.text
            return r.json()

        def named(answer: dict) -> bool:
            return [m["name"] for m in answer["members"]] == [NAME]

        seen = await poll(lambda: ranked(tokens["admin"]), named, deadline_s=60, every_s=0.5)
        assert named(seen), seen
        as_reader = await ranked(tokens["reader"])
    assert [m["member_id"] for m in as_reader["members"]] == [member]
    assert [m["name"] for m in as_reader["members"]] == [None]
    assert NAME not in str(as_reader)
