"""The audit trail against the running system: a registry PUT and a void appear in GET /v1/audit
with actor, role, action and target; a court's admin sees its court's only; readers and writers
are refused; the topic itself holds no token, name or reason."""

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared import dev_issuer
from shared.audit import audit_command
from shared.contracts import AUDIT
from shared.kafka import partitions_of
from shared.settings import KafkaSettings
from tests.conftest import BOOTSTRAP, URLS, new_id, poll
from tests.support import deployment

SCORING = URLS["scoring"]
CST = timezone(timedelta(hours=8))
SECRET = new_id("secret-name")  # in a branch's name and a void's reason: never in the trail


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def acts(tokens) -> dict[str, str]:
    """Two fresh courts with a branch each, registered by the demo admin; a record of court A's
    branch voided by court A's admin (a sign-on token)."""
    a, b = new_id("court-audit"), new_id("court-audit")
    a1, b1, request_id = new_id("audit-a"), new_id("audit-b"), new_id("req")
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, court in ((a1, a), (b1, b)):
            body = {"name": f"审计支部 {SECRET}", "court": court, "members": 2}
            headers = {**bearer(tokens["admin"]), "X-Request-ID": request_id}
            r = await client.put(f"{SCORING}/v1/branches/{branch}", json=body, headers=headers)
            assert r.status_code == 200, r.text
        record = deployment(a1, datetime(2024, 5, 6, 9, tzinfo=CST))
        r = await client.post(
            f"{URLS['volunteer']}/v1/deployments", json=record, headers=bearer(tokens["writer"])
        )
        assert r.status_code == 202, r.text
        record_id = r.json()["id"]
        admin_a = dev_issuer.mint(["court_admin"], a, None, new_id("admin-a"), 1800)
        r = await client.post(
            f"{URLS['volunteer']}/v1/deployments/{record_id}:void",
            json={"reason": f"wrong day {SECRET}"},
            headers=bearer(admin_a),
        )
        assert r.status_code == 202, r.text
    return {
        "a": a, "b": b, "a1": a1, "b1": b1, "record": record_id, "request_id": request_id, "admin_a": admin_a,
        "admin_b": dev_issuer.mint(["court_admin"], b, None, new_id("admin-b"), 1800),
    }  # fmt: skip


async def trail(token: str, **query: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(f"{SCORING}/v1/audit", params=query, headers=bearer(token))


async def found(token: str, **query: str) -> list[dict]:
    """The events the query finds, once the API's index has them (polled with a deadline)."""
    response = await poll(
        lambda: trail(token, **query), lambda r: r.status_code == 200 and bool(r.json()["items"])
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_registry_put_is_audited(acts, tokens):
    (put,) = await found(tokens["admin"], target=acts["a1"])
    assert (put["actor"], put["role"], put["action"], put["target"]) == (
        "demo-admin",
        "static",
        "branch.put",
        acts["a1"],
    )
    assert (put["court"], put["branch"], put["request_id"]) == (acts["a"], acts["a1"], acts["request_id"])
    assert put["actor_court"] is None and put["source"] == "scoring-api"
    assert abs(datetime.fromisoformat(put["time"]) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_a_void_is_audited(acts, tokens):
    (void,) = await found(tokens["admin"], target=acts["record"])
    assert void["actor"].startswith("oidc:admin-a-") and void["role"] == "court_admin"
    assert (void["action"], void["court"], void["branch"]) == ("record.void", acts["a"], acts["a1"])
    assert void["actor_court"] == acts["a"] and void["source"] == "volunteer"
    assert (await found(tokens["admin"], actor=void["actor"], action="record.void"))[0]["id"] == void["id"]


async def test_a_move_between_courts_is_seen_by_both(acts, tokens):
    moved = new_id("audit-moved")
    async with httpx.AsyncClient(timeout=30) as client:
        for court in (acts["a"], acts["b"]):  # registered in A, then moved to B
            body = {"name": f"审计支部 {SECRET}", "court": court, "members": 2}
            r = await client.put(f"{SCORING}/v1/branches/{moved}", json=body, headers=bearer(tokens["admin"]))
            assert r.status_code == 200, r.text
    in_b = await found(acts["admin_b"], target=moved)  # the move only: it landed in B
    assert [(e["court"], e["from_court"]) for e in in_b] == [(acts["b"], acts["a"])]
    in_a = await poll(lambda: found(acts["admin_a"], target=moved), lambda items: len(items) == 2)
    assert [(e["court"], e["from_court"]) for e in in_a] == [(acts["b"], acts["a"]), (acts["a"], None)]


async def test_a_court_admin_sees_its_courts_events_only(acts, tokens):
    mine = await found(acts["admin_a"], target=acts["record"])
    assert [e["action"] for e in mine] == ["record.void"]
    assert (await found(acts["admin_a"], target=acts["a1"]))[0]["action"] == "branch.put"
    assert (await found(acts["admin_b"], target=acts["b1"]))[0]["court"] == acts["b"]
    for target in (acts["record"], acts["a1"]):  # court A's: not in court B's trail
        r = await trail(acts["admin_b"], target=target)
        assert r.status_code == 200 and r.json()["items"] == [], r.text
    everything = (await trail(acts["admin_b"], limit="1000")).json()["items"]
    assert everything and all(acts["b"] in (e["court"], e["actor_court"]) for e in everything)
    r = await trail(acts["admin_b"], court=acts["a"])
    assert r.status_code == 403 and "court" in r.json()["detail"]


async def test_a_rescore_is_audited_for_the_city(acts, tokens):
    """What `python -m services.scoring rescore` writes before it starts (services/scoring/rescore.py)."""
    target = f"{new_id('db').replace('-', '_')}:generation-2"
    await audit_command(
        KafkaSettings(bootstrap_servers=BOOTSTRAP), "rescore.start", target, "scoring-rescore"
    )
    (rescore,) = await found(tokens["admin"], target=target)
    assert (rescore["action"], rescore["role"], rescore["court"]) == ("rescore.start", "operator", None)
    assert rescore["actor"] and rescore["source"] == "scoring-rescore"
    r = await trail(acts["admin_a"], target=target)
    assert r.status_code == 200 and r.json()["items"] == []  # the city's act, not a court's


async def test_readers_and_writers_are_refused(acts, tokens):
    secretary = dev_issuer.mint(["secretary"], acts["a"], acts["a1"], None, 600)
    reader = dev_issuer.mint(["reader"], None, None, None, 600)
    for token in (tokens["reader"], tokens["writer"], secretary, reader):
        r = await trail(token)
        assert r.status_code == 403 and "admin" in r.json()["detail"], r.text


async def test_pages_go_back_in_time(acts, tokens):
    await found(tokens["admin"], target=acts["record"])
    first = (await trail(tokens["admin"], limit="2")).json()
    assert len(first["items"]) == 2 and first["next"]
    second = (await trail(tokens["admin"], limit="2", before=first["next"])).json()
    assert second["items"] and second["items"][0]["id"] not in {e["id"] for e in first["items"]}
    times = [e["time"] for e in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    r = await trail(tokens["admin"], limit="1001")
    assert r.status_code == 422


async def test_the_topic_holds_no_token_name_or_reason(acts, tokens):
    await found(tokens["admin"], target=acts["record"])
    tps = await partitions_of(KafkaSettings(bootstrap_servers=BOOTSTRAP), [AUDIT.name])
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends, ours = await consumer.end_offsets(tps), []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=1000)
            ours += [r.value for records in batch.values() for r in records if acts["a1"].encode() in r.value]
    finally:
        await consumer.stop()
    assert len(ours) >= 2  # the PUT and the void
    for value in ours:
        for secret in (SECRET, acts["admin_a"], tokens["admin"], tokens["writer"], "审计支部", "wrong day"):
            assert secret.encode() not in value
