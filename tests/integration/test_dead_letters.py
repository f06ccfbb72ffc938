"""Poison records written straight onto each topic land in the dead-letter topic with the reason
and where they came from, while good records keep flowing (whatever their key)."""

import asyncio
import json

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts import DEAD_LETTER, TOPICS, Stream
from tests.conftest import BOOTSTRAP, URLS, new_id, poll


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
    m = {name: new_id(name) for name in ("json", "type", "version", "topic", "subject", "data")}
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
        m["subject"]: (
            branch.encode(),
            json.dumps(envelope(stream, branch, m["subject"], subject="a b")).encode(),
        ),
        m["data"]: (branch.encode(), json.dumps({**good, "data": {**good["data"], "kind": "nap"}}).encode()),
    }


REASONS = [
    "invalid envelope",
    "unknown event type",
    "unsupported schema version",
    "does not belong on topic",
    "subject must be a branch id",
    "invalid data",
]


async def seek_dead_letters_to_end(consumer: AIOKafkaConsumer) -> None:
    """Read the dead-letter topic from its end: only what the test causes."""
    partitions = consumer.partitions_for_topic(DEAD_LETTER.name) or range(6)
    dlq = [TopicPartition(DEAD_LETTER.name, p) for p in partitions]
    consumer.assign(dlq)
    for tp, offset in (await consumer.end_offsets(dlq)).items():
        consumer.seek(tp, offset)


async def kinds_counted(tokens: dict, branch: str, expected: int, **params: str) -> dict:
    """The branch's April 2024 breakdown once it lists `expected` kinds (or at the deadline)."""
    async with httpx.AsyncClient(timeout=10) as client:

        async def row() -> dict:
            r = await client.get(
                f"{URLS['scoring']}/v1/branches/{branch}/score",
                params={"period": "2024-04", **params},
                headers={"Authorization": f"Bearer {tokens['reader']}"},
            )
            return r.json() if r.status_code == 200 else {}

        return await poll(row, lambda b: len(b.get("kinds", [])) == expected, deadline_s=60)


async def test_poison_goes_to_dead_letters_and_good_records_flow(tokens):
    branch = new_id("b")
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        await seek_dead_letters_to_end(consumer)
        expected = {}
        for stream in Stream:
            for marker, (key, value) in poisons(stream, branch).items():
                await producer.send_and_wait(TOPICS[stream].name, value, key=key)
                expected[marker] = (stream, value)
            good = envelope(stream, branch, new_id("good"))
            # The key is not what routes a record (its subject is): another key still counts.
            await producer.send_and_wait(TOPICS[stream].name, json.dumps(good).encode(), key=b"someone-else")

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
            # Refused by the router (on the input topic) or by the scorer (on the repartition topic,
            # naming where the record came from).
            assert headers.get("dlq.origin.topic", headers["dlq.topic"]) == TOPICS[stream].name
            assert int(headers["dlq.offset"]) >= 0
            assert any(reason in headers["dlq.reason"] for reason in REASONS), headers["dlq.reason"]
        reasons = {h["headers"]["dlq.reason"].split(":")[0] for h in found.values()}
        assert len(reasons) >= 5
    finally:
        await consumer.stop()
        await producer.stop()

    result = await kinds_counted(tokens, branch, 3)
    assert sorted(k["kind"] for k in result["kinds"]) == ["legal_publicity", "speech_contest", "visit"]
    assert all(k["count"] == 1 for k in result["kinds"])


async def test_a_record_too_large_to_dead_letter_whole_goes_truncated_and_nothing_stalls(tokens):
    """A near-limit record grows past the broker's message size once the reason travels with it:
    it is dead-lettered truncated, with its size, and the stream goes on (it used to be retried
    forever, as if the broker were away)."""
    branch, stream = new_id("b"), Stream.LIAISON
    marker = new_id("huge")
    huge = (marker + " ").encode() + b"x" * 1_040_000  # not JSON: refused by the router
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        await seek_dead_letters_to_end(consumer)
        await producer.send_and_wait(TOPICS[stream].name, huge, key=branch.encode(), partition=0)
        good = envelope(stream, branch, new_id("good"))
        await producer.send_and_wait(TOPICS[stream].name, json.dumps(good).encode(), partition=0)
        found = None
        deadline = asyncio.get_running_loop().time() + 60
        while found is None and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found = next((r for r in records if r.value.startswith(marker.encode())), found)
        assert found is not None, "the huge record never reached the dead-letter topic"
        headers = {k: v.decode() for k, v in found.headers}
        assert headers["dlq.truncated_from"] == str(len(huge)) and len(found.value) < len(huge)
        assert "not JSON" in headers["dlq.reason"]
    finally:
        await consumer.stop()
        await producer.stop()
    result = await kinds_counted(tokens, branch, 1, include_unregistered="true")
    assert [k["count"] for k in result.get("kinds", [])] == [1]
