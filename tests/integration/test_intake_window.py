"""The running intake services against hostile times and ids: a time outside the window is its
sender's 422 and nobody else's 500, and a sender cannot take the id a void will need."""

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shared.intake.accept import void_id
from tests.conftest import URLS, new_id
from tests.integration.test_intake_kafka import SERVICES
from tests.support import deployment

CST = timezone(timedelta(hours=8))
MAY_2024 = datetime(2024, 5, 21, 9, 30, tzinfo=CST)


@pytest.fixture
async def client(tokens):
    headers = {"Authorization": f"Bearer {tokens['writer']}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as c:
        yield c


@pytest.mark.parametrize("hostile", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_concurrent_valid_posts_are_accepted_while_a_year_1_post_is_refused(client, hostile):
    url = f"{URLS['volunteer']}/v1/deployments"
    branch = new_id("b")
    valid = [deployment(branch, MAY_2024, member_id=new_id("m")) | {"id": new_id("e")} for _ in range(30)]
    bad = deployment(branch, MAY_2024) | {"started_at": hostile, "id": new_id("e")}
    bodies = [*valid[:15], bad, *valid[15:]]
    answers = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
    refused = answers.pop(15)
    assert [(a.status_code, a.json()["id"]) for a in answers] == [(202, b["id"]) for b in valid]
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {"field": "started_at", "message": "must lie within 1990-01-01T00:00:00+08:00 .. now + 10 minutes"}
    ]


@pytest.mark.parametrize("service", list(SERVICES))
async def test_a_sender_cannot_take_a_derived_id_and_the_void_still_works(client, service):
    resource, _topic, _type, build = SERVICES[service]
    url = f"{URLS[service]}/v1/{resource}"
    body, x = build(new_id("b"), MAY_2024), new_id("e")
    assert (await client.post(url, json=body | {"id": x})).status_code == 202
    for taker in (
        client.post(url, json=body | {"id": void_id(x)}),
        client.post(url, json=body | {"member_id": new_id("m")}, headers={"Idempotency-Key": void_id(x)}),
    ):
        r = await taker
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] in (["id"], ["header.Idempotency-Key"])
    void = await client.post(f"{url}/{x}:void", json={"reason": "entered twice"})
    assert (void.status_code, void.json()["id"]) == (202, void_id(x)), void.text
    derived = await client.post(url, json=body | {"member_id": new_id("m")})  # no id: derived
    assert derived.status_code == 202 and derived.json()["id"].startswith("sys-d-")
