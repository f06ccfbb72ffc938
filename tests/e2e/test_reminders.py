"""Reminders end to end: the schedule run for a day of 2024, webhooks to a local receiver (signed,
retried, deduplicated by Idempotency-Key), a restarted scheduler, and destinations refused."""

import asyncio
import hashlib
import hmac
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from services.scoring.rulebooks import load_rulebook
from shared.contracts import REMINDER_DEAD_LETTER, REMINDERS
from shared.kafka import partitions_of
from shared.settings import KafkaSettings, MongoSettings
from tests.conftest import BOOTSTRAP, MONGO_URL, ROOT, URLS, new_id, poll

pytestmark = pytest.mark.timeout(900)
TODAY = "2024-03-28"  # a Thursday of 2024-W13: March and Q1 close within 7 days, February closed
SECRET = "receiver-secret-0123456789"
CADENCE = load_rulebook().cadence
MADE: list[str] = []  # subscriptions to remove afterwards: their receiver is gone with the test


class Receiver:
    """A webhook receiver: records every request; paths under /flaky/ fail twice per key first,
    paths under /down/ always."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[dict[str, str], bytes, int]]] = defaultdict(list)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body, key = await request.read(), request.headers.get("Idempotency-Key", "")
        tries = sum(1 for h, _, _ in self.calls[request.path] if h.get("Idempotency-Key") == key)
        flaky = request.path.startswith("/flaky/") and tries < 2
        status = 500 if flaky or request.path.startswith("/down/") else 200
        self.calls[request.path].append((dict(request.headers), body, status))
        return web.json_response({"ok": status == 200}, status=status)

    def taken(self, path: str) -> dict[str, bytes]:
        """What the receiver keeps: the accepted bodies, one per Idempotency-Key (repeats dropped)."""
        return {h["Idempotency-Key"]: body for h, body, status in self.calls[path] if status == 200}


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield found
    await runner.cleanup()


@pytest.fixture(scope="module")
async def api(tokens) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(base_url=URLS["scoring"], headers=headers, timeout=180) as client:
        yield client
        for sub_id in MADE:
            await poll(lambda s=sub_id: deleted(client, s), bool, 120, 2)


async def deleted(client: httpx.AsyncClient, sub_id: str) -> bool:
    try:
        return (await client.delete(f"/v1/subscriptions/{sub_id}")).status_code in (204, 404)
    except httpx.TransportError:  # the API restarting
        return False


async def branch(api: httpx.AsyncClient) -> str:
    """A fresh registered branch of 2024 with no records: every cadence of it is undone."""
    branch_id = new_id("rem")
    body = {"name": "提醒测试支部", "court": new_id("rem-court"), "members": 3}
    (await api.put(f"/v1/branches/{branch_id}", json=body)).raise_for_status()
    return branch_id


def of_today(reminder_id: str) -> bool:
    """A reminder of TODAY's windows: the scheduler's own daily runs judge the real today too."""
    return reminder_id.rsplit(":", 1)[1].startswith("2024")


def owed(branch_id: str) -> set[str]:
    """What a branch without records is owed on TODAY."""
    monthly = [k for k, unit in CADENCE.items() if unit == "month"]
    quarterly = [k for k, unit in CADENCE.items() if unit == "quarter"]
    return (
        {f"reminder.due:{branch_id}:{k}:2024-03" for k in monthly}
        | {f"reminder.due:{branch_id}:{k}:2024-Q1" for k in quarterly}
        | {f"reminder.overdue:{branch_id}:{k}:2024-02" for k in monthly}
        | {f"reminder.digest:{branch_id}:2024-W13"}
    )


async def run_schedule(api: httpx.AsyncClient) -> dict[str, Any]:
    """POST /v1/reminders:run?today=TODAY, through a scheduler election or an API restart."""

    async def once() -> httpx.Response | None:
        try:
            return await api.post("/v1/reminders:run", params={"today": TODAY})
        except httpx.TransportError:
            return None

    response = await poll(once, lambda r: r is not None and r.status_code != 503, deadline_s=240, every_s=2)
    assert response is not None and response.status_code == 200, response and response.text[:300]
    return response.json()


async def subscribe(api: httpx.AsyncClient, url: str, scope: dict, **extra: Any) -> str:
    sub_id = new_id("rem-sub")
    MADE.append(sub_id)
    body = {"url": url, "events": ["reminder.due", "reminder.overdue", "reminder.digest"], "scope": scope}
    response = await api.put(f"/v1/subscriptions/{sub_id}", json={**body, "secret": SECRET, **extra})
    assert response.status_code == 200, response.text[:300]
    return sub_id


async def topic_records(topic: str) -> list[Any]:
    """Every record of a topic, from its beginning to its end now."""
    partitions = await partitions_of(KafkaSettings(), [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp]}
        while left:
            for records in (await consumer.getmany(*left, timeout_ms=1000)).values():
                found += records
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found


async def test_a_json_subscriber_gets_each_reminder_signed_and_a_second_run_publishes_nothing(api, receiver):
    branch_id = await branch(api)
    sub_id = await subscribe(api, f"{receiver.url}/ok/x", {"branch": branch_id})
    shown = (await api.get(f"/v1/subscriptions/{sub_id}")).json()
    assert shown["secret_set"] is True and SECRET not in str(shown)

    first = await run_schedule(api)
    assert {i for i in first["published"] if f":{branch_id}:" in i} == owed(branch_id)
    path = "/ok/x"
    await poll(lambda: asyncio.sleep(0, receiver.taken(path)), lambda t: owed(branch_id) <= t.keys(), 120)
    taken = {k: v for k, v in receiver.taken(path).items() if f":{branch_id}:" in k and of_today(k)}
    assert taken.keys() == owed(branch_id)
    for headers, body, _ in receiver.calls[path]:
        signed = f"{headers['X-Timestamp']}.".encode() + body
        expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Signature"], expected)
        assert orjson.loads(body)["id"] == headers["Idempotency-Key"]
    event = orjson.loads(taken[f"reminder.due:{branch_id}:lecture_hall:2024-03"])
    assert event["type"] == "cn.court.partybuilding.reminder.due.v1"
    assert event["data"]["closes_on"] == "2024-03-31" and event["data"]["days_left"] == 3

    second = await run_schedule(api)
    assert not [i for i in second["published"] if f":{branch_id}:" in i]
    assert second["already"] >= len(owed(branch_id))


async def test_a_receiver_failing_twice_ends_with_the_reminder_once(api, receiver):
    branch_id = await branch(api)
    await subscribe(
        api, f"{receiver.url}/flaky/{branch_id}", {"branch": branch_id}, events=["reminder.digest"]
    )
    await run_schedule(api)
    path = f"/flaky/{branch_id}"
    digest = f"reminder.digest:{branch_id}:2024-W13"

    async def tries() -> list:
        return [c for c in receiver.calls[path] if c[0]["Idempotency-Key"] == digest]

    calls = await poll(tries, lambda c: len(c) >= 3, 120)
    assert [status for _, _, status in calls] == [500, 500, 200]  # retried with backoff, then taken
    assert [k for k in receiver.taken(path) if of_today(k)] == [digest]  # once, repeats dropped


async def test_a_restarted_scheduler_publishes_nothing_twice(api, receiver):
    branch_id = await branch(api)
    await subscribe(api, f"{receiver.url}/ok/restart", {"branch": branch_id})
    assert {i for i in (await run_schedule(api))["published"] if f":{branch_id}:" in i} == owed(branch_id)
    for action in ("down", "up"):  # the scheduler's process
        # `up` gives up waiting for readiness after a minute on a loaded machine while the process
        # goes on starting: run_schedule below waits for it (the restart itself must happen).
        done = await asyncio.to_thread(
            subprocess.run,
            [str(ROOT / ".venv/bin/python"), "deploy/local/stack.py", action, "scoring-api"],
            cwd=ROOT,
            timeout=300,
        )
        assert action == "up" or done.returncode == 0
    again = await run_schedule(api)  # a new scheduler: it knows what was published from the topic
    assert not [i for i in again["published"] if f":{branch_id}:" in i]
    ids = [
        dict(r.headers)["reminder.id"].decode()
        for r in await topic_records(REMINDERS.of(MongoSettings().database))
    ]
    # Of TODAY's windows (the scheduler's own daily runs judge the real today as well).
    mine = [i for i in ids if f":{branch_id}:" in i and i.rsplit(":", 1)[1].startswith("2024")]
    assert sorted(mine) == sorted(owed(branch_id))  # each once on the topic


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",  # a private network
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://0:8000/hook",  # a name resolving to 0.0.0.0, which reaches the local host
        "http://0x0:8000/hook",  # the same, in hex
        "http://[::ffff:10.0.0.1]/hook",
        "ftp://127.0.0.1/hook",
        "http://user:pw@127.0.0.1/hook",
    ],
)
async def test_a_disallowed_destination_is_refused(api, url):
    scope = {"court": "cz-zy"}
    response = await api.put(
        f"/v1/subscriptions/{new_id('rem-ssrf')}",
        json={"url": url, "events": ["reminder.due"], "scope": scope, "secret": SECRET},
    )
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_name_resolving_to_a_disallowed_address_at_delivery_is_not_sent_to(api, receiver):
    """A subscription stored while its name resolved elsewhere (DNS rebinding), or before the
    allow-list narrowed: the deliverer resolves and checks again, and dead-letters it instead."""
    branch_id, sub_id = await branch(api), new_id("rem-rebound")
    MADE.append(sub_id)
    port = receiver.url.rsplit(":", 1)[1]
    doc = {
        "_id": sub_id,
        "url": f"http://0x0:{port}/rebound/{sub_id}",  # "0x0" resolves to 0.0.0.0: the local host
        "events": ["reminder.digest"],
        "court": None,
        "branch": branch_id,
        "format": "json",
        "secret": SECRET,
    }
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL)
    try:
        await client[MongoSettings().database]["reminder_subscriptions"].insert_one(doc)
    finally:
        await client.close()
    await run_schedule(api)

    async def dead() -> list[dict[str, bytes]]:
        records = await topic_records(REMINDER_DEAD_LETTER.of(MongoSettings().database))
        return [
            dict(r.headers) for r in records if dict(r.headers).get("dlq.subscription") == sub_id.encode()
        ]

    letters = await poll(dead, bool, 120, 1)
    assert letters, "the refused delivery was not dead-lettered"
    assert b"allow-list" in letters[0]["dlq.reason"] and letters[0]["dlq.attempts"] == b"1"
    assert not receiver.calls[f"/rebound/{sub_id}"]


async def dead_letters(sub_id: str) -> list[dict[str, bytes]]:
    """The headers of the dead letters of one subscription, with the reminder's id as "id"."""
    records = await topic_records(REMINDER_DEAD_LETTER.of(MongoSettings().database))
    headers = [{**dict(r.headers), "id": orjson.loads(r.value)["id"].encode()} for r in records]
    return [h for h in headers if h.get("dlq.subscription") == sub_id.encode()]


async def test_a_receiver_that_never_takes_it_gets_every_try_then_the_reminder_is_dead_lettered(
    api, receiver
):
    branch_id = await branch(api)
    path = f"/down/{branch_id}"
    sub_id = await subscribe(api, f"{receiver.url}{path}", {"branch": branch_id}, events=["reminder.digest"])
    await run_schedule(api)
    digest = f"reminder.digest:{branch_id}:2024-W13"

    async def letters_of_today() -> list[dict[str, bytes]]:
        return [h for h in await dead_letters(sub_id) if h["id"] == digest.encode()]

    letters = await poll(letters_of_today, bool, 180, 1)
    assert letters and letters[0]["dlq.reason"] == b"transient: HTTP 500"
    sent = [c for c in receiver.calls[path] if c[0]["Idempotency-Key"] == digest]
    assert letters[0]["dlq.attempts"] == b"5" and len(sent) == 5  # the settings' tries
