"""Rebuild every score from the Kafka log under the current rulebook into a fresh generation, then
switch readers (and workers) to it.

The log is read partition by partition up to its end offsets at the start (the snapshot): every
ledger is fed by exactly one partition, so memory holds one partition's ledgers at a time. The
new generation's consumer group gets those end offsets committed before the switch, so workers
of the new generation carry on from exactly where the rebuild stopped: nothing is skipped, and
nothing is applied twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.ledger import Ledger, apply
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import score
from services.scoring.generations import Generation, MongoGenerations
from services.scoring.score_feed import SCORE_FEED_CONFIG, KafkaScoreFeed, feed_topic
from services.scoring.scorer import Delivery, decode
from services.scoring.store import LedgerKey, MongoScoreStore, ScoredLedger, StoredLedger, summary
from shared.contracts import TOPICS, ContractError
from shared.kafka import KafkaPublisher, ensure_topics, partitions_of
from shared.settings import KafkaSettings

Progress = Callable[[int], None]
FEED_CHUNK = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RescoreReport:
    generation: int
    records: int = 0
    skipped_invalid: int = 0
    ledgers: int = 0
    end_offsets: dict[str, int] = field(default_factory=dict)


@dataclass
class _Building:
    ledger: Ledger = field(default_factory=Ledger)
    offset: int = -1
    last_time: datetime = EPOCH


async def _partitions(kafka: KafkaSettings) -> list[TopicPartition]:
    return await partitions_of(kafka, [t.name for t in TOPICS.values()])


async def _fold_partition(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, report: RescoreReport, progress: Progress
) -> dict[LedgerKey, _Building]:
    building: dict[LedgerKey, _Building] = {}
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    while (await consumer.position(tp)) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
        messages = [m for m in batch.get(tp, []) if m.offset < end]
        for m in messages:
            try:
                decoded = decode(Delivery(m.topic, m.partition, m.offset, m.key, m.value))
            except ContractError:
                report.skipped_invalid += 1  # already in the dead-letter topic from live scoring
                continue
            state = building.setdefault(decoded.key, _Building())
            apply(state.ledger, decoded.item)
            state.offset, state.last_time = m.offset, max(state.last_time, decoded.event.envelope.time)
        report.records += len(messages)
        progress(len(messages))
    return building


async def rescore(
    kafka: KafkaSettings,
    db: AsyncDatabase,
    rulebook: Rulebook,
    app_id: str,
    progress: Progress,
    on_total: Callable[[int], None] = lambda _: None,
) -> RescoreReport:
    """Build generation N+1 from the whole log, hand its offsets to its consumer group, switch."""
    generations = MongoGenerations(db)
    target = Generation((await generations.active()).number + 1)
    await db.drop_collection(target.ledgers)  # leftovers of an interrupted run
    store = MongoScoreStore(db, target)
    topic = feed_topic(db.name)
    await ensure_topics(kafka, [topic], SCORE_FEED_CONFIG)
    publisher = KafkaPublisher(kafka, client_id="scoring-rescore", ack_timeout_s=60)
    feed = KafkaScoreFeed(publisher, topic)
    report = RescoreReport(target.number)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(kafka)
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        on_total(sum(ends[tp] - starts[tp] for tp in tps))
        for tp in tps:
            building = await _fold_partition(consumer, tp, ends[tp], report, progress)
            scored = [
                ScoredLedger(
                    key,
                    StoredLedger(state.ledger, state.offset),
                    score(state.ledger.facts.values(), rulebook),
                    rulebook.version,
                    state.last_time,
                )
                for key, state in building.items()
            ]
            await store.insert_new(scored)
            for start in range(0, len(scored), FEED_CHUNK):
                await feed.publish(target.number, [summary(s) for s in scored[start : start + FEED_CHUNK]])
            report.ledgers += len(scored)
    finally:
        await consumer.stop()
        await publisher.stop()
    await commit_offsets(kafka, target.group(app_id), ends)
    report.end_offsets = {f"{tp.topic}[{tp.partition}]": o for tp, o in ends.items()}
    await generations.switch(target, rulebook.version)
    return report


async def end_offsets(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    """Where every event-topic partition ends now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(await _partitions(kafka))
    finally:
        await consumer.stop()


async def commit_offsets(kafka: KafkaSettings, group: str, ends: dict[TopicPartition, int]) -> None:
    """Commit offsets for a consumer group that has no members yet (so a manually assigned
    consumer may): its first workers start exactly there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in ends.items()})
    finally:
        await consumer.stop()
