"""Rebuild every score from the Kafka log under the current rulebook into a fresh generation, then
switch readers (and workers) to it.

The log is read partition by partition up to its end offsets at the start (the snapshot): every
ledger is fed by exactly one partition, so memory holds one partition's ledgers at a time. The
new generation's consumer group gets those end offsets committed before the switch, so workers
of the new generation carry on from exactly where the rebuild stopped: nothing is skipped, and
nothing is applied twice.
"""

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Empty

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.rulebook import Rulebook
from services.scoring.dead_letters import KafkaDeadLetters, listed_dead_letters
from services.scoring.generations import Generation, MongoGenerations
from services.scoring.rescore_share import Done, Share, rescore_share, rescore_share_in_child
from services.scoring.router import Router, catch_up
from services.scoring.routing import routed_topics
from services.scoring.rulebooks import rulebook_toml
from services.scoring.score_feed import SCORE_FEED_CONFIG, feed_topic
from shared.audit import audit_command
from shared.contracts import DEFAULT_TIME_WINDOW, TOPICS, TimeWindow
from shared.kafka import EVENT_TOPIC_CONFIG, KafkaPublisher, ensure_topics, partitions_of
from shared.settings import KafkaSettings

Progress = Callable[[int], None]


@dataclass
class RescoreReport:
    generation: int
    records: int = 0
    skipped_invalid: int = 0
    skipped_dead_lettered: int = 0
    ledgers: int = 0
    processes: int = 1
    end_offsets: dict[str, int] = field(default_factory=dict)


async def _partitions(kafka: KafkaSettings, topics: list[str] | None = None) -> list[TopicPartition]:
    return await partitions_of(kafka, topics or [t.name for t in TOPICS.values()])


def _shares(sizes: dict[TopicPartition, int], ends: dict[TopicPartition, int], n: int) -> list[list]:
    """Partitions dealt to n processes, largest first to the least loaded (even work per core)."""
    bins: list[tuple[int, list]] = [(0, []) for _ in range(n)]
    for tp in sorted(sizes, key=lambda tp: -sizes[tp]):
        i = min(range(n), key=lambda i: bins[i][0])
        bins[i] = (bins[i][0] + sizes[tp], [*bins[i][1], (tp.topic, tp.partition, ends[tp])])
    return [b for _, b in bins if b]


async def rescore(
    kafka: KafkaSettings,
    db: AsyncDatabase,
    mongo_url: str,
    rulebook: Rulebook,
    app_id: str,
    progress: Progress,
    on_total: Callable[[int], None] = lambda _: None,
    processes: int | None = None,
    routed_from: str | None = None,
    window: TimeWindow = DEFAULT_TIME_WINDOW,
) -> RescoreReport:
    """Build generation N+1 from the whole log, hand its offsets to its consumer group, switch.
    The log is the repartition topics of `routed_from` (default: `app_id`), in the order live
    scoring read them; records the dead-letter topic lists are skipped. The partitions are
    shared out among `processes` (default: one per core)."""
    generations = MongoGenerations(db)
    target = Generation((await generations.active()).number + 1)
    await audit_command(kafka, "rescore.start", f"{db.name}:generation-{target.number}", "scoring-rescore")
    await db.drop_collection(target.ledgers)  # leftovers of an interrupted run
    await ensure_topics(kafka, [feed_topic(db.name)], SCORE_FEED_CONFIG)
    streams = routed_topics(routed_from or app_id)
    await ensure_topics(kafka, list(streams), EVENT_TOPIC_CONFIG)
    await route_everything(kafka, routed_from or app_id)
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(kafka, list(streams))
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    # Listed after the snapshot: everything the snapshot holds that live scoring refused is there.
    dead = await listed_dead_letters(kafka, set(streams))
    sizes = {tp: ends[tp] - starts[tp] for tp in tps}
    on_total(sum(sizes.values()))
    started = datetime.now(UTC)
    shares = [
        Share(kafka, mongo_url, db.name, target.number, rulebook, part, streams, dead, started, window)
        for part in _shares(sizes, ends, max(1, processes or os.cpu_count() or 1))
    ]
    report = RescoreReport(target.number, processes=len(shares))
    for done in await _run(shares, progress):
        report.records += done.records
        report.skipped_invalid += done.skipped_invalid
        report.skipped_dead_lettered += done.skipped_dead_lettered
        report.ledgers += done.ledgers
    await commit_offsets(kafka, target.group(app_id), ends)
    report.end_offsets = {f"{tp.topic}[{tp.partition}]": o for tp, o in ends.items()}
    await generations.switch(target, rulebook_toml(rulebook))
    return report


async def route_everything(kafka: KafkaSettings, app_id: str) -> int:
    """Make sure every record the input topics hold now is on the repartition topics (the
    workers' routers normally keep up; with no worker running, this process routes)."""
    publisher = KafkaPublisher(kafka, client_id="scoring-rescore-router", ack_timeout_s=60)
    try:
        return await catch_up(Router(kafka, app_id, publisher, KafkaDeadLetters(publisher)), kafka)
    finally:
        await publisher.stop()


async def _run(shares: list[Share], progress: Progress) -> list[Done]:
    if len(shares) == 1:
        return [await rescore_share(shares[0], progress)]
    # Decoding and validating records is CPU work: one process per share uses every core.
    # Spawned, not forked: this process already runs an event loop and network clients.
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with context.Manager() as manager, ProcessPoolExecutor(len(shares), mp_context=context) as pool:
        queue = manager.Queue()
        futures = [loop.run_in_executor(pool, rescore_share_in_child, share, queue) for share in shares]
        while not all(f.done() for f in futures):
            await asyncio.sleep(0.2)
            _drain(queue, progress)
        _drain(queue, progress)
        return list(await asyncio.gather(*futures))


def _drain(queue, progress: Progress) -> None:  # type: ignore[no-untyped-def]
    while True:
        try:
            progress(queue.get_nowait())
        except Empty:
            return


async def end_offsets(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    """Where every event-topic partition ends now."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(await _partitions(kafka))
    finally:
        await consumer.stop()


async def commit_offsets(kafka: KafkaSettings, group: str, ends: dict[TopicPartition, int]) -> None:
    """Commit offsets for a consumer group that has no members yet (so a manually assigned
    consumer may): its first workers start exactly there."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in ends.items()})
    finally:
        await consumer.stop()
