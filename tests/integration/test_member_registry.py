"""The member registry against the running system: members registered, moved mid-month and erased;
a period's member count is its roster (else the registered number); a branch change applies from
its date on; names only for admins of the court and the branch's secretary; after an erasure the
name is in no answer, log line, metric or registry event; bad bodies get their reasons."""

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared import dev_issuer
from shared.kafka import partitions_of
from shared.registry_events import registry_topic
from shared.settings import KafkaSettings, MongoSettings
from tests.conftest import BOOTSTRAP, INSTANCE, URLS, new_id, poll
from tests.support import deployment

SCORING = URLS["scoring"]
CST = timezone(timedelta(hours=8))
NAME = f"测试党员{new_id('n')[2:]}"  # unique, so finding it anywhere is this test's doing
OTHER_NAME = f"另一党员{new_id('n')[2:]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def world(tokens) -> dict[str, Any]:
    """A fresh court with three branches (10, 4 and 3 registered members); two members of b1
    joined 2024-01-01, the second moved to b2 on 2024-03-15."""
    court, other = new_id("court-mem"), new_id("court-mem")
    b1, b2, b3, m1, m2 = (new_id(p) for p in ("mem-b1", "mem-b2", "mem-b3", "m1", "m2"))
    admin = bearer(tokens["admin"])
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        for branch, members in ((b1, 10), (b2, 4), (b3, 3)):
            body = {"name": "成员登记测试支部", "court": court, "members": members}
            r = await client.put(f"/v1/branches/{branch}", json=body, headers=admin)
            assert r.status_code == 200, r.text
        for member, name, role in ((m1, NAME, "secretary"), (m2, OTHER_NAME, "member")):
            body = {"name": name, "branch_id": b1, "role": role, "joined": "2024-01-01"}
            r = await client.put(f"/v1/members/{member}", json=body, headers=admin)
            assert r.status_code == 200, r.text
            assert r.json()["effective"] == "2024-01-01" and r.json()["name"] == name
        moved = {"name": OTHER_NAME, "branch_id": b2, "role": "committee", "joined": "2024-01-01",
                 "effective": "2024-03-15"}  # fmt: skip
        r = await client.put(f"/v1/members/{m2}", json=moved, headers=admin)
        assert r.status_code == 200, r.text
    return {"court": court, "other": other, "b1": b1, "b2": b2, "b3": b3, "m1": m1, "m2": m2}


async def get(token: str, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        return await client.get(path, params=params, headers=bearer(token))


async def members_of(tokens, branch: str, period: str) -> int:
    r = await get(tokens["reader"], f"/v1/branches/{branch}/score", period=period)
    assert r.status_code == 200, r.text
    return int(r.json()["members"])


async def test_a_periods_member_count_is_its_roster_and_a_transfer_counts_in_both_branches(world, tokens):
    b1, b2 = world["b1"], world["b2"]
    assert await members_of(tokens, b1, "2024-03") == 2  # m2 moved mid-March: in both that month
    assert await members_of(tokens, b2, "2024-03") == 1
    assert await members_of(tokens, b1, "2024-04") == 1
    assert await members_of(tokens, b2, "2024-02") == 4  # no roster yet: the registered number
    assert await members_of(tokens, b1, "2023") == 10
    # The ranking divides by the same count: a record of b1 in April, per member of its roster.
    async with httpx.AsyncClient(timeout=30) as client:
        record = deployment(b1, datetime(2024, 4, 8, 9, tzinfo=CST), member_id=world["m1"])
        r = await client.post(
            f"{URLS['volunteer']}/v1/deployments", json=record, headers=bearer(tokens["writer"])
        )
        assert r.status_code == 202, r.text

    async def row() -> dict | None:
        r = await get(tokens["reader"], "/v1/rankings", period="2024-04", court=world["court"])
        rows = r.json()["rows"] if r.status_code == 200 else []
        return next((x for x in rows if x["branch_id"] == b1), None)

    found = await poll(row, lambda x: x is not None, deadline_s=90)
    assert found is not None and found["members"] == 1


async def test_members_are_listed_today_and_by_year_with_their_history(world, tokens):
    r = await get(tokens["admin"], "/v1/members", branch=world["b2"])
    assert r.status_code == 200, r.text
    assert [(m["member_id"], m["role"], m["role_label"]) for m in r.json()] == [
        (world["m2"], "committee", "委员 Committee member")
    ]
    r = await get(tokens["admin"], "/v1/members", branch=world["b1"], year="2024")
    assert [m["member_id"] for m in r.json()] == [world["m1"]]  # m2 ended 2024 in b2
    r = await get(tokens["admin"], "/v1/members", court=world["court"], year="2024")
    assert sorted(m["member_id"] for m in r.json()) == sorted([world["m1"], world["m2"]])
    r = await get(tokens["reader"], f"/v1/members/{world['m2']}")
    assert r.status_code == 200, r.text
    history = r.json()["history"]
    assert [(h["branch_id"], h["effective"]) for h in history] == [
        (world["b1"], "2024-01-01"),
        (world["b2"], "2024-03-15"),
    ]
    assert r.json()["current"]["branch_id"] == world["b2"]


async def test_names_only_for_admins_of_the_court_and_the_branchs_secretary(world, tokens):
    b1, court = world["b1"], world["court"]
    secretary = dev_issuer.mint(["secretary"], court, b1, new_id("sec"), 1800)
    court_admin = dev_issuer.mint(["court_admin"], court, None, new_id("ca"), 1800)
    court_reader = dev_issuer.mint(["reader"], court, None, new_id("rd"), 1800)
    for token in (tokens["admin"], court_admin, secretary):
        r = await get(token, "/v1/members", branch=b1, year="2024")
        assert r.status_code == 200, r.text
        assert [m["name"] for m in r.json()] == [NAME]
    for token in (tokens["reader"], court_reader):
        r = await get(token, "/v1/members", branch=b1, year="2024")
        assert r.status_code == 200, r.text
        assert [m["name"] for m in r.json()] == [None] and NAME not in r.text
    # b1's secretary does not see the name of a member of b2.
    r = await get(secretary, "/v1/members", branch=world["b2"])
    assert r.status_code == 200 and [m["name"] for m in r.json()] == [None], r.text
    # Another court's admin reads neither the list nor the member.
    stranger = dev_issuer.mint(["court_admin"], world["other"], None, new_id("ca"), 1800)
    assert (await get(stranger, "/v1/members", branch=b1)).status_code == 403
    assert (await get(stranger, f"/v1/members/{world['m1']}")).status_code == 403


async def test_another_courts_admin_may_neither_register_into_nor_take_a_member(world, tokens):
    stranger = dev_issuer.mint(["court_admin"], world["other"], None, new_id("ca"), 1800)
    own = new_id("mem-own")
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        body = {"name": "x", "court": world["other"], "members": 2}
        assert (
            await client.put(f"/v1/branches/{own}", json=body, headers=bearer(stranger))
        ).status_code == 200
        into = {"name": "x", "branch_id": world["b1"], "role": "member", "joined": "2024-01-01"}
        r = await client.put(f"/v1/members/{new_id('m')}", json=into, headers=bearer(stranger))
        assert r.status_code == 403, r.text
        take = {"name": "x", "branch_id": own, "role": "member", "joined": "2024-01-01"}
        r = await client.put(f"/v1/members/{world['m1']}", json=take, headers=bearer(stranger))
        assert r.status_code == 403, r.text
        r = await client.delete(f"/v1/members/{world['m1']}", headers=bearer(stranger))
        assert r.status_code == 403, r.text
        r = await client.put(f"/v1/members/{new_id('m')}", json=into, headers=bearer(tokens["reader"]))
        assert r.status_code == 403 and "admin" in r.json()["detail"], r.text


async def test_a_branch_change_applies_from_its_effective_date_on(world, tokens):
    b3 = world["b3"]
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        body = {"name": "成员登记测试支部", "court": world["court"], "members": 7, "effective": "2024-06-01"}
        r = await client.put(f"/v1/branches/{b3}", json=body, headers=bearer(tokens["admin"]))
        assert r.status_code == 200, r.text
    assert await members_of(tokens, b3, "2024-05") == 3
    assert await members_of(tokens, b3, "2024-06") == 7
    assert await members_of(tokens, b3, "2024") == 7  # a period's fields are those of its last day
    r = await get(tokens["reader"], "/v1/branches")
    assert next(b for b in r.json() if b["branch_id"] == b3)["members"] == 7  # today's


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "x"}, "nickname"),
        ({"joined": "2024-02-30"}, "joined"),
        ({"joined": "0001-01-01"}, "joined"),
        ({"effective": "3000-01-01"}, "effective"),
        ({"left": "2023-12-31"}, "left"),
        ({"role": "boss"}, "role"),
        ({"name": "张\u0007三"}, "name"),
        ({"name": "张" * 51}, "name"),
        ({"name": ""}, "name"),
        ({"branch_id": "no such/branch"}, "branch_id"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(world, tokens, body, field):
    good = {"name": "李四", "branch_id": world["b1"], "role": "member", "joined": "2024-01-01"}
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        r = await client.put(
            f"/v1/members/{new_id('m')}", json={**good, **body}, headers=bearer(tokens["admin"])
        )
    assert r.status_code == 422, r.text
    assert field in r.text, r.text


async def test_unregistered_branch_unknown_member_and_bad_ids(world, tokens):
    admin = bearer(tokens["admin"])
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        body = {"name": "李四", "branch_id": new_id("nobody"), "role": "member", "joined": "2024-01-01"}
        r = await client.put(f"/v1/members/{new_id('m')}", json=body, headers=admin)
        assert r.status_code == 422 and "not registered" in r.json()["detail"], r.text
        assert (await client.delete(f"/v1/members/{new_id('m')}", headers=admin)).status_code == 404
        r = await client.put("/v1/members/-bad", json={**body, "branch_id": world["b1"]}, headers=admin)
        assert r.status_code == 422, r.text


async def test_erasure_leaves_the_id_and_no_name_anywhere(world, tokens):
    m1 = world["m1"]
    async with httpx.AsyncClient(base_url=SCORING, timeout=30) as client:
        r = await client.delete(f"/v1/members/{m1}", headers=bearer(tokens["admin"]))
        assert r.status_code == 204, r.text
    answers = [
        await get(tokens["admin"], f"/v1/members/{m1}"),
        await get(tokens["admin"], "/v1/members", branch=world["b1"], year="2024"),
        await get(tokens["admin"], "/v1/members", court=world["court"]),
        await get(tokens["admin"], "/v1/audit", target=m1),
    ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert answers[0].json()["name"] is None and answers[0].json()["history"][0]["member_id"] == m1
    assert [m["member_id"] for m in answers[1].json()] == [m1]  # the pseudonymous id stays
    assert {e["action"] for e in answers[3].json()["items"]} >= {"member.put", "member.erase"}
    for a in answers:
        assert NAME not in a.text
    async with httpx.AsyncClient(timeout=30) as client:
        for service, url in URLS.items():
            metrics = await client.get(f"{url}/metrics")
            assert metrics.status_code == 200, service
            assert NAME not in metrics.text, service
    for log in INSTANCE.log.glob("*.log"):
        assert NAME.encode() not in log.read_bytes(), log
    assert not any(NAME.encode() in v for v in await registry_records())


async def registry_records() -> list[bytes]:
    """Every record of the registry topic (its events carry ids, roles and dates only)."""
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    (tp,) = await partitions_of(kafka, [registry_topic(MongoSettings().database)])
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            found += [r.value for r in batch.get(tp, []) if r.value is not None]
        return found
    finally:
        await consumer.stop()
