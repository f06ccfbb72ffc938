"""The intake services against the live broker and database: what lands on the topics, and how
retries, conflicts and voids show in the scoring worker's ranking."""

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.volunteer.app import SPEC as VOLUNTEER
from services.volunteer.app import VolunteerSettings
from shared.auth import AuthSettings, TokenEntry, token_hash
from shared.intake.app import create_app as create_intake_app
from tests.conftest import BOOTSTRAP, URLS, new_id, poll
from tests.support import deployment

CST = timezone(timedelta(hours=8))


class Tail:
    """The records that land on a topic from now on: no consumer group, every partition assigned
    explicitly and read from the end offsets taken on entering."""

    def __init__(self, topic: str):
        self.topic = topic
        self.records: list[ConsumerRecord] = []
        self._consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)

    async def __aenter__(self) -> "Tail":
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            [described] = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(self.topic, p["partition"]) for p in described["partitions"]]
        await self._consumer.start()
        self._consumer.assign(partitions)
        for tp, offset in (await self._consumer.end_offsets(partitions)).items():
            self._consumer.seek(tp, offset)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(self, done: Callable[[list[ConsumerRecord]], bool], deadline_s: float = 30) -> list:
        """Read until `done(records so far)` or the deadline; return what was read."""
        end = time.monotonic() + deadline_s
        while not done(self.records) and time.monotonic() < end:
            for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                self.records += batch
        return self.records

    def events(self, **match: object) -> list[tuple[ConsumerRecord, dict]]:
        """(record, envelope) of the records whose envelope has these top-level values."""
        found = [(r, json.loads(r.value)) for r in self.records]
        return [(r, e) for r, e in found if all(e.get(k) == v for k, v in match.items())]


def contact(branch: str, at: datetime) -> dict:
    return {
        "member_id": new_id("m"),
        "branch_id": branch,
        "kind": "pre_litigation_resolution",
        "channel": "offline",
        "enterprise": {"name": "沧州市某机械制造有限公司", "credit_code": "91350100M000100Y43"},
        "occurred_at": at.isoformat(),
        "note": "诉前化解一起合同纠纷",
    }


def completion(branch: str, at: datetime) -> dict:
    return {
        "member_id": new_id("m"),
        "branch_id": branch,
        "kind": "lecture_hall",
        "session_id": new_id("lecture-2024-05"),
        "completed_at": at.isoformat(),
        "score": 92.5,
    }


# service -> (resource, topic, event type, a record builder)
SERVICES = {
    "volunteer": (
        "deployments",
        "volunteer.deployments.v1",
        "volunteer.deployed",
        lambda b, at: deployment(b, at, hours=2.5) | {"note": "法治宣传进社区"},
    ),
    "liaison": ("contacts", "liaison.contacts.v1", "liaison.contacted", contact),
    "training": ("completions", "training.completions.v1", "training.completed", completion),
}
MAY_2024 = datetime(2024, 5, 20, 9, 30, tzinfo=CST)


@pytest.fixture
async def client(tokens):
    headers = {"Authorization": f"Bearer {tokens['writer']}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as c:
        yield c


@pytest.mark.parametrize("service", list(SERVICES))
async def test_a_posted_record_lands_as_exactly_its_cloudevent_keyed_by_branch(client, service):
    resource, topic, event_type, build = SERVICES[service]
    branch, event_id = new_id("b"), new_id("e")
    body = build(branch, MAY_2024) | {"id": event_id}
    async with Tail(topic) as tail:
        before = datetime.now(UTC)
        r = await client.post(f"{URLS[service]}/v1/{resource}", json=body)
        after = datetime.now(UTC)
        assert r.status_code == 202, r.text
        assert r.json() == {"id": event_id, "status": "accepted", "duplicate": False}
        await tail.until(lambda _: bool(tail.events(id=event_id)))
    [(record, envelope)] = tail.events(id=event_id)
    assert record.key == branch.encode()
    accepted_at = datetime.fromisoformat(envelope.pop("time"))
    assert before - timedelta(seconds=1) <= accepted_at <= after + timedelta(seconds=1)
    assert envelope == {
        "specversion": "1.0",
        "id": event_id,
        "source": service,
        "type": f"cn.court.partybuilding.{event_type}.v1",
        "subject": branch,
        "datacontenttype": "application/json",
        "data": {k: v for k, v in body.items() if k != "id"},
    }


async def ranking_rows(client: httpx.AsyncClient, reader: str) -> dict[str, dict]:
    """The rows of the 2024 ranking by `people`, by branch id."""
    r = await client.get(
        f"{URLS['scoring']}/v1/rankings",
        params={"period": "2024", "dimension": "people", "limit": 1000, "include_unregistered": "true"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert r.status_code == 200, r.text
    return {row["branch_id"]: row for row in r.json()["rows"]}


async def people_score(client: httpx.AsyncClient, reader: str, branch: str) -> float | None:
    """The branch's per-member `people` score in 2024 (as its ranking row shows it), or None while
    it has none. Read from its breakdown: a low score need not be among the top rows of a ranking
    that every test's branches share."""
    r = await client.get(
        f"{URLS['scoring']}/v1/branches/{branch}/score",
        params={"period": "2024"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return float(r.json()["dimensions"]["people"]["per_member"])


def score_of(client: httpx.AsyncClient, reader: str, branch: str) -> Callable[[], Awaitable[float | None]]:
    return lambda: people_score(client, reader, branch)


SCORED_S = 120  # the shared worker may have other tests' records to score first


async def test_a_record_nine_minutes_ahead_of_the_intakes_clock_is_accepted(tokens):
    # The intake's own clock is set in 2024, so the record stays in 2024 like every test record.
    now = datetime(2024, 6, 3, 10, 0, tzinfo=CST)
    auth = AuthSettings(
        tokens=[TokenEntry(name="t", sha256=token_hash(tokens["writer"]), scopes=["events:write"])]
    )
    app = create_intake_app(VOLUNTEER, VolunteerSettings(auth=auth), clock=lambda: now)
    branch, event_id = new_id("b"), new_id("e")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {tokens['writer']}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers) as client,
        Tail("volunteer.deployments.v1") as tail,
    ):
        ahead = deployment(branch, now + timedelta(minutes=9)) | {"id": event_id}
        r = await client.post("/v1/deployments", json=ahead)
        assert r.status_code == 202, r.text
        r = await client.post("/v1/deployments", json=deployment(branch, now + timedelta(minutes=11)))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "started_at"
        await tail.until(lambda _: bool(tail.events(id=event_id)))
    [(_, envelope)] = tail.events(id=event_id)
    assert datetime.fromisoformat(envelope["time"]) == now


async def test_a_retry_is_acknowledged_and_counted_once(client, tokens):
    branch, member, event_id = new_id("b"), new_id("m"), new_id("e")
    url = f"{URLS['volunteer']}/v1/deployments"
    first = deployment(branch, datetime(2024, 4, 8, 9, tzinfo=CST), hours=4, member_id=member)
    async with Tail("volunteer.deployments.v1") as tail:
        r = await client.post(url, json=first | {"id": event_id})
        assert r.status_code == 202 and r.json()["duplicate"] is False, r.text
        r = await client.post(url, json=first | {"id": event_id})
        assert r.status_code == 202 and r.json() == {"id": event_id, "status": "accepted", "duplicate": True}
        r = await client.post(url, json=first, headers={"Idempotency-Key": event_id})
        assert r.status_code == 202 and r.json() == {"id": event_id, "status": "accepted", "duplicate": True}

        score = await poll(score_of(client, tokens["reader"], branch), lambda s: s is not None, SCORED_S)
        assert score == 2.0  # 4 h x 0.5 a hour, one member

        # A second, different record of the same branch: same partition, so once its effect shows,
        # anything the retries might have published before it has been scored too.
        second = deployment(branch, datetime(2024, 4, 9, 9, tzinfo=CST), hours=1, member_id=member)
        r = await client.post(url, json=second | {"id": new_id("e")})
        assert r.status_code == 202, r.text
        second_id = r.json()["id"]
        score = await poll(
            score_of(client, tokens["reader"], branch), lambda s: s not in (None, 2.0), SCORED_S
        )
        assert score == 2.5  # 2.0 + 0.5: the first record exactly once
        await tail.until(lambda _: bool(tail.events(id=second_id)))
    assert len(tail.events(id=event_id)) == 1


async def test_a_conflicting_retry_is_refused(client):
    branch, event_id = new_id("b"), new_id("e")
    url = f"{URLS['volunteer']}/v1/deployments"
    record = deployment(branch, MAY_2024, hours=3)
    assert (await client.post(url, json=record | {"id": event_id})).status_code == 202
    r = await client.post(url, json=record | {"id": event_id, "hours": 5})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 409 and "different content" in r.json()["detail"]
    r = await client.post(url, json=record | {"hours": 5}, headers={"Idempotency-Key": event_id})
    assert r.status_code == 409


async def test_a_void_is_published_and_the_record_stops_counting(client, tokens):
    branch, member = new_id("b"), new_id("m")
    url = f"{URLS['volunteer']}/v1/deployments"
    kept = deployment(branch, datetime(2024, 3, 1, 9, tzinfo=CST), hours=1, member_id=member)
    voided = deployment(branch, datetime(2024, 3, 2, 9, tzinfo=CST), hours=4, member_id=member)
    voided_id = new_id("e")
    assert (await client.post(url, json=kept)).status_code == 202
    assert (await client.post(url, json=voided | {"id": voided_id})).status_code == 202
    score = await poll(score_of(client, tokens["reader"], branch), lambda s: s == 2.5, SCORED_S)
    assert score == 2.5

    async with Tail("volunteer.deployments.v1") as tail:
        r = await client.post(f"{url}/{voided_id}:void", json={"reason": "entered for the wrong member"})
        assert r.status_code == 202, r.text
        void_id = r.json()["id"]
        await tail.until(lambda _: bool(tail.events(id=void_id)))
    [(record, envelope)] = tail.events(id=void_id)
    assert record.key == branch.encode()
    assert envelope["type"] == "cn.court.partybuilding.volunteer.voided.v1"
    assert envelope["subject"] == branch and envelope["source"] == "volunteer"
    assert envelope["data"]["event_id"] == voided_id
    assert datetime.fromisoformat(envelope["data"]["record_occurred_at"]) == datetime.fromisoformat(
        voided["started_at"]
    )

    score = await poll(score_of(client, tokens["reader"], branch), lambda s: s == 0.5, SCORED_S)
    assert score == 0.5  # only the 1-hour record still counts
    again = await client.post(f"{url}/{voided_id}:void", json={"reason": "entered for the wrong member"})
    assert again.status_code == 202 and again.json() == {
        "id": void_id,
        "status": "accepted",
        "duplicate": True,
    }
    assert (await client.post(f"{url}/{new_id('e')}:void", json={"reason": "x"})).status_code == 404


# Last in this module: the worker takes minutes to score 500 records, and the test waits for
# that, so the tests after it do not queue behind them.
async def test_a_batch_of_500_lands_whole(client, tokens):
    branches = [new_id("b") for _ in range(10)]  # spread over the partitions
    records = [
        deployment(branches[i % 10], MAY_2024 + timedelta(minutes=i)) | {"id": new_id("e")}
        for i in range(500)
    ]
    ids = {r["id"] for r in records}
    async with Tail("volunteer.deployments.v1") as tail:
        r = await client.post(f"{URLS['volunteer']}/v1/deployments:batch", json={"items": records})
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 500 and r.json()["rejected"] == 0
        assert [x["id"] for x in r.json()["results"]] == [x["id"] for x in records]
        await tail.until(lambda recs: ids <= {json.loads(x.value)["id"] for x in recs}, deadline_s=60)
    landed = Counter(e["id"] for _, e in tail.events() if e["id"] in ids)
    assert landed == dict.fromkeys(ids, 1)
    assert all(rec.key.decode() == e["subject"] for rec, e in tail.events() if e["id"] in ids)

    # Each record names a new member, so a branch's row shows 50 members once all 50 are scored.
    async def members() -> dict[str, int]:
        rows = await ranking_rows(client, tokens["reader"])
        return {b: rows[b]["members"] for b in branches if b in rows}

    scored = await poll(members, lambda m: m == dict.fromkeys(branches, 50), deadline_s=240, every_s=2)
    assert scored == dict.fromkeys(branches, 50)
