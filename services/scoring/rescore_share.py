"""One share of a rescore (rescore.py orchestrates the shares): fold some partitions of the log into
ledgers, write them into the new generation and publish them on the score feed. Runs in the
rescoring process or in a child of it (each child takes its own partitions: every ledger is fed by
exactly one partition)."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from services.scoring.core.ledger import Tracked, fold_at
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import scores_and_members
from services.scoring.delivery import Delivery
from services.scoring.generations import Generation
from services.scoring.member_feed import member_summaries
from services.scoring.score_feed import KafkaScoreFeed, feed_topic
from services.scoring.scorer import decode
from services.scoring.store import LedgerKey, MongoScoreStore, ScoredLedger, StoredLedger, encode_ledger
from shared.contracts import DEFAULT_TIME_WINDOW, Stream, TimeWindow
from shared.kafka import KafkaPublisher
from shared.settings import KafkaSettings

FEED_CHUNK = 2000
DOCUMENT_MAX_BYTES = 16 * 1024 * 1024  # MongoDB's own limit: live scoring kept every ledger below it
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Share:
    """What one process rebuilds: partitions (topic, partition, end offset) of the snapshot."""

    kafka: KafkaSettings
    mongo_url: str
    database: str
    generation: int
    rulebook: Rulebook
    partitions: list[tuple[str, int, int]]
    streams: dict[str, Stream]  # the repartition topics read, with their streams
    dead_lettered: frozenset[tuple[str, int, int]]  # (topic, partition, offset) listed as dead letters
    started: datetime  # "now" of the time window: when the rescore began
    window: TimeWindow = DEFAULT_TIME_WINDOW


@dataclass
class Done:
    records: int = 0
    skipped_invalid: int = 0  # refused afresh (already dead-lettered live, or would have been)
    skipped_dead_lettered: int = 0  # listed in the dead-letter topic: skipped without a look
    ledgers: int = 0


async def rescore_share(share: Share, progress: Progress) -> Done:
    """Fold, write and publish every partition of the share, one partition at a time."""
    done = Done()
    client: AsyncMongoClient = AsyncMongoClient(share.mongo_url, tz_aware=True, appname="scoring-rescore")
    store = MongoScoreStore(client[share.database], Generation(share.generation))
    publisher = KafkaPublisher(share.kafka, client_id="scoring-rescore", ack_timeout_s=60)
    feed = KafkaScoreFeed(publisher, feed_topic(share.database))
    consumer = AIOKafkaConsumer(**share.kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        for topic, partition, end in share.partitions:
            building = await _fold(consumer, TopicPartition(topic, partition), end, share, done, progress)
            scored, members = [], []
            for key, state in building.items():
                stored = StoredLedger(state.ledger, state.offset, state.last_time)
                # Every member of every ledger: a rescore rebuilds the members' records too.
                periods, mine = scores_and_members(state.ledger.facts.values(), share.rulebook, None)
                scored.append(ScoredLedger(key, stored, periods, share.rulebook.version))
                members += member_summaries(key, stored, mine, mine, share.rulebook.version)
            await store.insert_new([encode_ledger(s, DOCUMENT_MAX_BYTES) for s in scored])
            for start in range(0, len(scored), FEED_CHUNK):
                await feed.publish(share.generation, [s.summary for s in scored[start : start + FEED_CHUNK]])
            for start in range(0, len(members), FEED_CHUNK):
                await feed.publish_members(share.generation, members[start : start + FEED_CHUNK])
            done.ledgers += len(scored)
    finally:
        await consumer.stop()
        await publisher.stop()
        await client.close()
    return done


async def _fold(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, share: Share, done: Done, progress: Progress
) -> dict[LedgerKey, Tracked]:
    """Fold one repartition partition as live scoring did: the same decode, the same fold, the
    same order; records the dead-letter topic lists are skipped, the rest decided afresh."""
    building: dict[LedgerKey, Tracked] = {}
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    while (await consumer.position(tp)) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
        messages = [m for m in batch.get(tp, []) if m.offset < end]
        for m in messages:
            if (m.topic, m.partition, m.offset) in share.dead_lettered:
                done.skipped_dead_lettered += 1
                continue
            try:
                decoded = decode(
                    Delivery(m.topic, m.partition, m.offset, m.key, m.value or b""),
                    share.streams,
                    share.started,
                )
            except Exception:  # a record's own fault, as live scoring decides (it dead-lettered it)
                done.skipped_invalid += 1
                continue
            state = building.setdefault(decoded.key, Tracked())
            if fold_at(state, m.offset, decoded.item, decoded.event.envelope.time) == "conflict":
                done.skipped_invalid += 1
        done.records += len(messages)
        progress(len(messages))
    return building


class ProgressQueue(Protocol):
    def put(self, item: int) -> None: ...


def rescore_share_in_child(share: Share, progress: ProgressQueue) -> Done:
    """Entry point of a child process: progress goes back through a queue."""
    return asyncio.run(rescore_share(share, progress.put))
