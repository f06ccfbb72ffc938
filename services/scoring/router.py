"""The router: re-keys every input record by branch onto the worker's repartition topics.

One consumer group per app id (not per score generation: routing is done once, whatever is
rescored later). An input offset is committed only once every record before it is on a
repartition topic or in the dead-letter topic, acknowledged by the broker. A crash or a
rebalance between the two forwards some records again: the copies have the same id and content,
which the fold counts once.
"""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.scoring import metrics
from services.scoring.delivery import DeadLetters, Delivery, reason_of
from services.scoring.routing import STREAM_OF_INPUT, origin_headers, routed_topic, subject_of
from shared.contracts import ContractError
from shared.kafka import BrokerUnavailable, KafkaPublisher, partitions_of
from shared.kafka_watch import FetchWatch, Stalled, keep_running
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)


class _FinishBeforeRevoke(ConsumerRebalanceListener):
    """Partitions are given up only after the batch in hand is forwarded and committed."""

    def __init__(self, busy: asyncio.Lock):
        self._busy = busy

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._busy:
            pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("router owns %d input partitions", len(assigned))


class Router:
    """Forwards input records to `<app id>.routed.<stream>.v1`, keyed by the envelope's subject."""

    def __init__(
        self, kafka: KafkaSettings, app_id: str, publisher: KafkaPublisher, dead_letters: DeadLetters
    ):
        self._kafka, self._app_id = kafka, app_id
        self._publisher, self._dead_letters = publisher, dead_letters
        self._busy = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None

    def group(self) -> str:
        return f"{self._app_id}-router"

    async def run(self) -> None:
        """Route until cancelled; a broker outage is waited out with the records in hand."""
        await keep_running("router", self._consume, errors=(KafkaError, OSError, BrokerUnavailable, Stalled))

    async def _consume(self) -> None:
        consumer = self.consumer = AIOKafkaConsumer(
            **self._kafka.client_options(),
            group_id=self.group(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,  # partitions added to an input topic are routed within seconds
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=600_000,  # a broker outage holds a batch for as long as it lasts
        )
        await consumer.start()
        try:
            consumer.subscribe(list(STREAM_OF_INPUT), listener=_FinishBeforeRevoke(self._busy))
            watch = FetchWatch(consumer, self._kafka, patience=3)
            while True:
                await watch.look()
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                if batch:
                    async with self._busy:
                        await self._forward_and_commit(consumer, batch)
        finally:
            self.consumer = None
            await consumer.stop()

    async def _forward_and_commit(self, consumer: AIOKafkaConsumer, batch: dict) -> None:
        """Forward every partition's records (in order per partition, all partitions at once),
        then commit them all in one request: a round trip per partition would bound the rate."""
        deliveries = [
            Delivery(r.topic, r.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ()))
            for records in batch.values()
            for r in records
        ]
        while True:
            try:
                await self._forward(deliveries)
                break
            except BrokerUnavailable as err:
                metrics.BROKER_ERRORS.inc()
                log.warning("router: %s; retrying", err)
                await asyncio.sleep(1.0)
        try:
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        except (CommitFailedError, IllegalStateError) as err:
            # The partitions moved on during a rebalance: their new owners forward these again.
            log.info("router: commit refused (%s)", type(err).__name__)

    async def _forward(self, deliveries: list[Delivery]) -> None:
        by_topic: dict[str, list[tuple[Delivery, bytes]]] = {}
        for d in deliveries:
            try:
                key = subject_of(d.value).encode()
            except ContractError as err:
                await self._reject(d, err)
                continue
            by_topic.setdefault(routed_topic(self._app_id, STREAM_OF_INPUT[d.topic]), []).append((d, key))
        topics = list(by_topic)
        answers = await asyncio.gather(  # the streams' topics at once; each keeps its own order
            *(
                self._publisher.publish_each(
                    topic,
                    [
                        (key, d.value, origin_headers(d.topic, d.partition, d.offset))
                        for d, key in by_topic[topic]
                    ],
                )
                for topic in topics
            )
        )
        for topic, results in zip(topics, answers, strict=True):
            for (d, _), failure in zip(by_topic[topic], results, strict=True):
                if failure is not None:
                    await self._reject(d, failure)
            metrics.ROUTED.labels(topic).inc(len(by_topic[topic]))

    async def _reject(self, d: Delivery, err: Exception) -> None:
        metrics.REJECTED.labels("route", type(err).__name__).inc()
        await self._dead_letters.send(d, reason_of(err))


async def routed_offsets(kafka: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    """How far the router group has forwarded each input partition (committed offsets)."""
    admin = AIOKafkaAdminClient(**kafka.client_options(), request_timeout_ms=kafka.request_timeout_ms)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def catch_up(router: Router, kafka: KafkaSettings, deadline_s: float = 3600) -> int:
    """Route until everything the input topics held when this began is on the repartition topics
    (whichever member of the router group forwards it), then leave the group. Returns the number
    of input records that were still to be routed at the start."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await partitions_of(kafka, list(STREAM_OF_INPUT)))
    finally:
        await consumer.stop()

    def behind(done: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        return {tp: end for tp, end in ends.items() if end > 0 and done.get(tp, 0) < end}

    first = await routed_offsets(kafka, router.group())
    todo = sum(end - first.get(tp, 0) for tp, end in behind(first).items())
    if not todo:
        return 0
    task = asyncio.create_task(router.run())
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline_s
        while behind(await routed_offsets(kafka, router.group())):
            if loop.time() > until or task.done():
                raise BrokerUnavailable("routing did not catch up with the input topics in time")
            await asyncio.sleep(0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return todo
