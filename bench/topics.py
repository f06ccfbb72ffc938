"""The event topics' partitions and sizes, and the bench topic (same partition count, short retention)."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bench.config import BENCH_TOPIC, BOOTSTRAP, EVENT_TOPICS

# Its records are junk for the broker to write: keep them ten minutes, in small segments.
BENCH_TOPIC_CONFIG = {"retention.ms": "600000", "segment.bytes": "16777216"}


async def partitions(topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"])


async def sizes(topics: list[str]) -> dict[TopicPartition, tuple[int, int]]:
    """(beginning, end) offsets of every partition of the topics."""
    tps = await partitions(topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp: (starts[tp], ends[tp]) for tp in tps}


async def records_per_topic() -> dict[str, int]:
    counts = dict.fromkeys(EVENT_TOPICS, 0)
    for tp, (start, end) in (await sizes(EVENT_TOPICS)).items():
        counts[tp.topic] += end - start
    return counts


async def ensure_bench_topic() -> int:
    """Create the bench topic with the event topics' partition count; that count."""
    count = len([tp for tp in await partitions(EVENT_TOPICS[:1])])
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        if BENCH_TOPIC not in await admin.list_topics():
            try:
                await admin.create_topics([NewTopic(BENCH_TOPIC, count, 1, topic_configs=BENCH_TOPIC_CONFIG)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    return count
