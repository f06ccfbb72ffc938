"""Records that fail and records from other producers, while traffic flows: a record that raises
inside the worker (whatever it raises, wherever) is dead-lettered alone and the rest of its batch
counts; one branch's records written onto every partition of a topic (one of them added while the
system runs) by a producer with another partitioner, or none, count exactly once, as a rescore
of the log counts them."""

import asyncio
import os
import time
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from pymongo import AsyncMongoClient

from services.scoring.fault_injection import ERRORS, STAGES
from services.scoring.generations import MongoGenerations
from services.scoring.score_feed import feed_topic
from shared.contracts import EVENT_TYPES, TOPICS, Stream, build_event, type_for
from tests.conftest import BOOTSTRAP, MONGO_URL, URLS, new_id
from tests.fault.driver import Driver
from tests.fault.outage import stack
from tests.fault.pipeline import stack_group, stack_scoring
from tests.fault.scenario import check, run
from tests.fault.summary import Summary
from tests.fault.test_submissions import dead_letter_consumer, dead_lettered
from tests.fault.workload import Workload
from tests.support import drop_topics, recompute, scored

pytestmark = pytest.mark.timeout(600)
HOOK = "SCORING_WORKER_FAULT_INJECTION"


async def restart_worker(**env: str) -> None:
    """Restart the stack's worker with `env` added to (or, empty, removed from) its environment."""
    for key in (HOOK,):
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        await asyncio.to_thread(stack, "down", "scoring-worker")
        await asyncio.to_thread(stack, "up", "scoring-worker")
    finally:
        for key in env:
            os.environ.pop(key, None)


async def test_g_records_that_raise_inside_the_worker(tokens, summary: Summary):
    summary.fault = (
        "records that raise OverflowError, KeyError, DocumentTooLarge or Exception at decode, fold or store"
    )
    workload = Workload.fresh()
    consumer = await dead_letter_consumer()
    await restart_worker(**{HOOK: "true"})
    try:
        async with stack_scoring() as scoring:

            async def fault(driver: Driver) -> float:
                marked = {}
                for error in ERRORS:
                    for stage in STAGES:
                        marked[f"fault-{error}-{stage}-{new_id('x')}"] = error
                async with httpx.AsyncClient(timeout=15) as client:
                    r = await client.post(
                        f"{URLS['liaison']}/v1/contacts:batch",
                        json={"items": [{**workload.record("liaison"), "id": i} for i in marked]},
                        headers={"Authorization": f"Bearer {tokens['writer']}"},
                    )
                assert r.status_code == 200 and all(x["status"] == 202 for x in r.json()["results"]), r.text
                reasons = await dead_lettered(consumer, set(marked))
                summary.notes["raising"], summary.notes["dead_lettered"] = len(marked), len(reasons)
                assert reasons.keys() == marked.keys(), (
                    f"not dead-lettered: {sorted(marked.keys() - reasons.keys())}"
                )
                assert all(reasons[i].startswith(error) for i, error in marked.items()), reasons
                return time.monotonic()

            outcome = await run(summary, tokens, scoring, fault, workload)
    finally:
        await consumer.stop()
        await restart_worker()
    check(outcome)  # everything the driver posted counts, and none of the raising records
    # The rescore has no hook: it must skip the raising records because the dead-letter topic lists them.
    await assert_rescore_agrees(workload)


def envelope(service: str, body: dict) -> bytes:
    """The CloudEvent an intake service would publish for `body`."""
    stream = Stream(service)
    payload = EVENT_TYPES[type_for(stream)].model.model_validate({k: v for k, v in body.items() if k != "id"})
    return (
        build_event(body["id"], "other-producer", stream, payload, datetime.now(UTC))
        .model_dump_json()
        .encode()
    )


async def add_partition(topic: str) -> int:
    """Add one partition to a live input topic; return the new count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        count = len(described[0]["partitions"]) + 1
        await admin.create_partitions({topic: NewPartitions(total_count=count)})
        return count
    finally:
        await admin.close()


async def test_h_any_partitioner_and_added_partitions(tokens, summary: Summary):
    summary.fault = "one branch's records on every partition (one added while running), explicit or keyless"
    workload = Workload.fresh(branches=4)
    async with stack_scoring() as scoring:

        async def fault(driver: Driver) -> float:
            producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
            await producer.start()
            sent = 0
            try:
                for service in ("liaison", "training"):
                    topic = TOPICS[Stream(service)].name
                    partitions = await add_partition(topic) if service == "liaison" else 6
                    for p in range(partitions):
                        for keyed in (True, False):
                            body = workload.record(service)
                            value = envelope(service, body)
                            key = body["branch_id"].encode() if keyed else None
                            await producer.send_and_wait(topic, value, key=key, partition=p)
                            # A resent copy on another partition: counted once.
                            await producer.send_and_wait(
                                topic, value, key=None, partition=(p + 1) % partitions
                            )
                            driver.ledger.records[body["id"]] = (service, body)
                            driver.tally.posted += 1  # acknowledged by the broker, counted once
                            sent += 2
            finally:
                await producer.stop()
            summary.notes["written_straight"] = sent
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault, workload)
    check(outcome)
    await assert_rescore_agrees(workload)


async def assert_rescore_agrees(workload: Workload) -> None:
    """A rescore of the whole log scores the workload's branches exactly as live scoring did."""
    database, stack_db = new_id("rescored").replace("-", "_"), stack_group()[1]
    await recompute(database)
    try:
        live = await scored(stack_db, list(workload.branches), await live_generation(stack_db))
        again = await scored(database, list(workload.branches), generation=2)
    finally:
        client: AsyncMongoClient = AsyncMongoClient(MONGO_URL)
        await client.drop_database(database)
        await client.close()
        await asyncio.to_thread(drop_topics, [feed_topic(database)])
    assert again == live and live


async def live_generation(database: str) -> int:
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL)
    try:
        return (await MongoGenerations(client[database]).active()).number
    finally:
        await client.close()
