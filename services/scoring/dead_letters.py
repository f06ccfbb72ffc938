"""Kafka adapter for the dead-letter topic."""

from aiokafka import AIOKafkaConsumer

from services.scoring import metrics
from services.scoring.delivery import Delivery
from shared.contracts import DEAD_LETTER
from shared.kafka import KafkaPublisher, RecordTooLarge, partitions_of
from shared.settings import KafkaSettings

# Room left for the headers under the broker's message size: a record that only just fitted its
# own topic must still fit the dead-letter topic once the reason travels with it.
HEADROOM = 4096


class KafkaDeadLetters:
    """Sends a bad record, unchanged (key and value), to the dead-letter topic; the reason and the
    record's origin travel in headers. A record too large to carry whole is truncated, and says so."""

    def __init__(self, publisher: KafkaPublisher, max_bytes: int = 1_000_000):
        self._publisher, self._max_bytes = publisher, max_bytes

    async def send(self, d: Delivery, reason: str) -> None:
        headers = [
            ("dlq.reason", reason[:1000].encode()),
            ("dlq.topic", d.topic.encode()),
            ("dlq.partition", str(d.partition).encode()),
            ("dlq.offset", str(d.offset).encode()),
            *((f"dlq.{name}", value) for name, value in d.headers if name.startswith("origin.")),
        ]
        value = d.value
        if len(value) + HEADROOM > self._max_bytes:
            value = self._truncated(d, headers)
        try:
            await self._publisher.publish(DEAD_LETTER.name, d.key, value, headers)
        except RecordTooLarge:  # the broker's limit is lower than we were told: keep only a prefix
            await self._publisher.publish(
                DEAD_LETTER.name, d.key, self._truncated(d, headers, 64_000), headers
            )
        metrics.DEAD_LETTERED.labels(d.topic).inc()

    def _truncated(self, d: Delivery, headers: list[tuple[str, bytes]], keep: int | None = None) -> bytes:
        keep = keep if keep is not None else max(self._max_bytes - HEADROOM, 0)
        metrics.OVERSIZE.labels(d.topic).inc()
        if not any(name == "dlq.truncated_from" for name, _ in headers):
            headers.append(("dlq.truncated_from", str(len(d.value)).encode()))
        return d.value[:keep]


async def listed_dead_letters(kafka: KafkaSettings, topics: set[str]) -> frozenset[tuple[str, int, int]]:
    """(topic, partition, offset) of every dead-lettered record that was read from `topics`: what a
    rescore skips, so that it refuses exactly what live scoring refused."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    found: set[tuple[str, int, int]] = set()
    try:
        tps = await partitions_of(kafka, [DEAD_LETTER.name])
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                for r in records:
                    h = {k: v.decode(errors="replace") for k, v in r.headers or ()}
                    if h.get("dlq.topic") in topics and h.get("dlq.partition", "").isdigit():
                        found.add((h["dlq.topic"], int(h["dlq.partition"]), int(h.get("dlq.offset", "-1"))))
    finally:
        await consumer.stop()
    return frozenset(found)
