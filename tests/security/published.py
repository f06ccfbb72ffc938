"""What reached the event topics between two moments: their end offsets, and the records since."""

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts import TOPICS
from shared.settings import KafkaSettings

Offsets = dict[TopicPartition, int]


def _consumer() -> AIOKafkaConsumer:
    # No group: nothing is committed, and no consumer group of the system is disturbed.
    return AIOKafkaConsumer(
        bootstrap_servers=KafkaSettings().bootstrap_servers, group_id=None, enable_auto_commit=False
    )


async def _partitions() -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KafkaSettings().bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in TOPICS.values()])
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def end_offsets() -> Offsets:
    """The end offset of every partition of the three event topics."""
    consumer = _consumer()
    try:
        await consumer.start()
        return dict(await consumer.end_offsets(await _partitions()))
    finally:
        await consumer.stop()


async def values_since(before: Offsets, deadline_s: float = 60) -> list[bytes]:
    """Every record value written to the event topics from `before` up to their current end."""
    consumer = _consumer()
    try:
        await consumer.start()
        partitions = await _partitions()
        after = await consumer.end_offsets(partitions)
        todo = {tp for tp in partitions if after[tp] > before.get(tp, 0)}
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, before.get(tp, 0))
        values: list[bytes] = []
        end = time.monotonic() + deadline_s
        while todo and time.monotonic() < end:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                values += [r.value for r in records if r.offset < after[tp] and r.value is not None]
            todo = {tp for tp in todo if await consumer.position(tp) < after[tp]}
            await asyncio.sleep(0)
        assert not todo, f"could not read up to the end offsets of {todo}"
        return values
    finally:
        await consumer.stop()
