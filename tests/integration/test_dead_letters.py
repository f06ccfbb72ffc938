"""Poison records written straight onto each topic land in the dead-letter topic with the reason,
while good records keep flowing."""

import asyncio
import json

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts import DEAD_LETTER, TOPICS, Stream
from tests.conftest import URLS, new_id, poll


def envelope(stream: Stream, branch: str, marker: str, **over) -> dict:
    data = {
        Stream.VOLUNTEER: {
            "member_id": marker,
            "branch_id": branch,
            "kind": "legal_publicity",
            "started_at": "2024-04-02T09:00:00+08:00",
            "hours": 2,
            "place": "Xinhua",
        },
        Stream.LIAISON: {
            "member_id": marker,
            "branch_id": branch,
            "kind": "visit",
            "channel": "online",
            "enterprise": {"name": "E", "credit_code": "91350100M000100Y43"},
            "occurred_at": "2024-04-02T09:00:00+08:00",
        },
        Stream.TRAINING: {
            "member_id": marker,
            "branch_id": branch,
            "kind": "speech_contest",
            "session_id": "sc-1",
            "completed_at": "2024-04-02T09:00:00+08:00",
        },
    }[stream]
    verb = {Stream.VOLUNTEER: "deployed", Stream.LIAISON: "contacted", Stream.TRAINING: "completed"}[stream]
    env = {
        "specversion": "1.0",
        "id": new_id("e"),
        "source": "test",
        "time": "2024-04-02T10:00:00+08:00",
        "type": f"cn.court.partybuilding.{stream.value}.{verb}.v1",
        "subject": branch,
        "datacontenttype": "application/json",
        "data": data,
    }
    return {**env, **over}


def poisons(stream: Stream, branch: str) -> dict[str, tuple[bytes, bytes]]:
    """marker -> (key, value) of records that break the contract in one way each."""
    other = next(s for s in Stream if s is not stream)
    m = {name: new_id(name) for name in ("json", "type", "version", "topic", "key", "data")}
    good = envelope(stream, branch, m["data"])
    return {
        m["json"]: (branch.encode(), f'{{"not json {m["json"]}'.encode()),
        m["type"]: (
            branch.encode(),
            json.dumps(envelope(stream, branch, m["type"], type="com.example.x.v1")).encode(),
        ),
        m["version"]: (
            branch.encode(),
            json.dumps(
                envelope(stream, branch, m["version"], type=envelope(stream, branch, "")["type"][:-1] + "7")
            ).encode(),
        ),
        m["topic"]: (branch.encode(), json.dumps(envelope(other, branch, m["topic"])).encode()),
        m["key"]: (b"someone-else", json.dumps(envelope(stream, branch, m["key"])).encode()),
        m["data"]: (branch.encode(), json.dumps({**good, "data": {**good["data"], "kind": "nap"}}).encode()),
    }


REASONS = [
    "invalid envelope",
    "unknown event type",
    "unsupported schema version",
    "does not belong on topic",
    "record key must be the branch id",
    "invalid data",
]


async def test_poison_goes_to_dead_letters_and_good_records_flow(tokens):
    branch = new_id("b")
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9092", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9092", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        dlq = [
            TopicPartition(DEAD_LETTER.name, p) for p in consumer.partitions_for_topic(DEAD_LETTER.name) or []
        ]
        if not dlq:
            dlq = [TopicPartition(DEAD_LETTER.name, p) for p in range(6)]
        consumer.assign(dlq)
        for tp, offset in (await consumer.end_offsets(dlq)).items():
            consumer.seek(tp, offset)
        expected = {}
        for stream in Stream:
            for marker, (key, value) in poisons(stream, branch).items():
                await producer.send_and_wait(TOPICS[stream].name, value, key=key)
                expected[marker] = (stream, value)
            good = envelope(stream, branch, new_id("good"))
            await producer.send_and_wait(TOPICS[stream].name, json.dumps(good).encode(), key=branch.encode())

        found: dict[str, dict] = {}
        deadline = asyncio.get_running_loop().time() + 60
        while len(found) < len(expected) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    marker = next((m for m in expected if m.encode() in r.value), None)
                    if marker:
                        found[marker] = {"value": r.value, "headers": {k: v.decode() for k, v in r.headers}}
        assert set(found) == set(expected)
        for marker, (stream, value) in expected.items():
            headers = found[marker]["headers"]
            assert found[marker]["value"] == value  # the original bytes, unchanged
            assert headers["dlq.topic"] == TOPICS[stream].name and int(headers["dlq.offset"]) >= 0
            assert any(reason in headers["dlq.reason"] for reason in REASONS), headers["dlq.reason"]
        reasons = {h["headers"]["dlq.reason"].split(":")[0] for h in found.values()}
        assert len(reasons) >= 5
    finally:
        await consumer.stop()
        await producer.stop()

    async with httpx.AsyncClient(timeout=10) as client:

        async def row():
            r = await client.get(
                f"{URLS['scoring']}/v1/branches/{branch}/score",
                params={"period": "2024-04"},
                headers={"Authorization": f"Bearer {tokens['reader']}"},
            )
            return r.json() if r.status_code == 200 else {}

        result = await poll(row, lambda b: len(b.get("kinds", [])) == 3, deadline_s=60)
    assert sorted(k["kind"] for k in result["kinds"]) == ["legal_publicity", "speech_contest", "visit"]
    assert all(k["count"] == 1 for k in result["kinds"])
