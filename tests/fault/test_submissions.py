"""Senders misbehave while traffic flows: bursts of resubmitted ids (single and batch) and of voids
count nothing twice, and poison written straight onto the topics goes to the dead-letter topic
with a reason and changes nothing else."""

import asyncio
import random
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts import DEAD_LETTER, TOPICS, Stream
from tests.conftest import BOOTSTRAP, URLS
from tests.fault.driver import Driver
from tests.fault.pipeline import stack_scoring
from tests.fault.scenario import check, run
from tests.fault.summary import Summary
from tests.fault.workload import Item, Workload
from tests.integration.test_dead_letters import REASONS, poisons

# A backlog left by others may have to drain first (see stack_scoring): more than the default 300 s.
pytestmark = pytest.mark.timeout(600)


async def duplicate_burst(driver: Driver, rng: random.Random) -> dict[str, int]:
    """Resend acknowledged records under their ids (single posts, batches, a batch naming an id
    twice), void some, void some of those again, and resend voided ones."""
    acked = list(driver.ledger.records.items())
    resend = rng.sample(acked, min(60, len(acked)))
    singles, batched = resend[:30], resend[30:]
    voids = rng.sample(acked, min(24, len(acked)))
    jobs = [driver.deliver(Item(service, (body,))) for _, (service, body) in singles]
    for service in {s for _, (s, _) in batched}:
        bodies = [body for _, (s, body) in batched if s == service]
        jobs.append(driver.deliver(Item(service, (*bodies, bodies[0]), batch=True)))
    jobs += [driver.void(service, event_id) for event_id, (service, _) in voids]
    await asyncio.gather(*jobs)
    again = voids[:8]
    await asyncio.gather(
        *(driver.void(service, event_id) for event_id, (service, _) in again),
        *(driver.deliver(Item(service, (body,))) for _, (service, body) in again),
    )
    return {
        "resent": len(resend) + len(again) + len({s for _, (s, _) in batched}),
        "voids": len(voids) + len(again),
    }


async def test_e_duplicate_and_void_burst(tokens, summary: Summary):
    summary.fault = "a burst of resubmitted ids (single, batch, repeated within a batch) and of voids"
    workload = Workload.fresh()
    async with stack_scoring() as scoring:

        async def fault(driver: Driver) -> float:
            duplicates_before = driver.tally.duplicates
            summary.notes.update(await duplicate_burst(driver, workload.rng))
            summary.notes["duplicates_in_burst"] = driver.tally.duplicates - duplicates_before
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault, workload)
    assert summary.notes["duplicates_in_burst"] >= summary.notes["resent"], (
        "resent ids not answered as duplicates"
    )
    assert len(outcome.driver.ledger.voided) > 0
    check(outcome)


async def dead_letter_consumer() -> AIOKafkaConsumer:
    """A consumer of the dead-letter topic positioned at its end (only what follows is read)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    partitions = consumer.partitions_for_topic(DEAD_LETTER.name) or set(range(6))
    tps = [TopicPartition(DEAD_LETTER.name, p) for p in partitions]
    consumer.assign(tps)
    for tp, offset in (await consumer.end_offsets(tps)).items():
        consumer.seek(tp, offset)
    return consumer


async def dead_lettered(
    consumer: AIOKafkaConsumer, markers: set[str], deadline_s: float = 90
) -> dict[str, str]:
    """marker -> dlq.reason of each poison record found on the dead-letter topic before the deadline."""
    found: dict[str, str] = {}
    end = asyncio.get_running_loop().time() + deadline_s
    while found.keys() < markers and asyncio.get_running_loop().time() < end:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for r in records:
                marker = next((m for m in markers if m.encode() in r.value), None)
                if marker:
                    found[marker] = dict(r.headers).get("dlq.reason", b"").decode()
    return found


async def write_poison(workload: Workload) -> set[str]:
    """Six kinds of contract breach per topic, each naming one of the scenario's branches."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    markers = set()
    try:
        for stream in Stream:
            branch = workload.rng.choice(list(workload.branches))
            for marker, (key, value) in poisons(stream, branch).items():
                await producer.send_and_wait(TOPICS[stream].name, value, key=key)
                markers.add(marker)
    finally:
        await producer.stop()
    return markers


async def test_f_poison_goes_to_dead_letters_and_changes_nothing(tokens, summary: Summary):
    summary.fault = "poison records written straight onto the three topics (aiokafka)"
    workload = Workload.fresh()
    consumer = await dead_letter_consumer()
    try:
        async with stack_scoring() as scoring:

            async def fault(driver: Driver) -> float:
                markers = await write_poison(workload)
                reasons = await dead_lettered(consumer, markers)
                summary.notes["poison"], summary.notes["dead_lettered"] = len(markers), len(reasons)
                assert reasons.keys() == markers, f"not dead-lettered: {sorted(markers - reasons.keys())}"
                assert all(any(r in reason for r in REASONS) for reason in reasons.values()), reasons
                return time.monotonic()

            outcome = await run(summary, tokens, scoring, fault, workload)
    finally:
        await consumer.stop()
    check(outcome)  # the poison names the scenario's branches: counting any of it would show here
    async with httpx.AsyncClient(timeout=10) as client:
        ready = await client.get(f"{URLS['worker']}/readyz")
    assert ready.status_code == 200, ready.text
