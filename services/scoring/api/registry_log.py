"""The registry topic, folded into memory by every API process (as the score view follows the
feed): the topic is the truth of branches' and members' histories, each process reads it from its
beginning and follows it, and a process that writes a change waits until it has read it back."""

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from services.scoring.core.roster import BranchVersion, InvalidVersion, MemberVersion, Registry, check_member
from shared.kafka import KafkaPublisher, ensure_topics, partitions_of
from shared.kafka_watch import FetchWatch, keep_running
from shared.registry_events import (
    REGISTRY_TOPIC_CONFIG,
    BranchChanged,
    MemberChanged,
    decode,
    encode,
    registry_topic,
)
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
READ_BACK_S = 10.0  # a writer waits this long to read its own change back before answering 503


def version_of(event: BranchChanged | MemberChanged) -> BranchVersion | MemberVersion:
    """The core's version of a registry event."""
    if isinstance(event, BranchChanged):
        return BranchVersion(
            event.branch_id, event.name, event.court, event.court_name, event.members, event.effective
        )
    return MemberVersion(
        event.member_id, event.branch_id, event.role, event.joined, event.left, event.effective
    )


class RegistryLog:
    """The registry as this process has read it from the topic (`registry`, `version`), and the
    writer of new changes (`write`: published, then read back)."""

    def __init__(self, kafka: KafkaSettings, database: str):
        self._kafka = kafka.model_copy(update={"partitions": 1})
        self.topic = registry_topic(database)
        self._publisher = KafkaPublisher(self._kafka, client_id="scoring-api-registry")
        self.registry = Registry()
        self.version = 0  # counts the changes folded
        self.position = 0  # the next offset to read
        self.ready = asyncio.Event()  # set once the topic was read to its end once
        self._moved = asyncio.Event()
        self._topic_made = False

    def apply(self, raw: bytes, offset: int) -> None:
        try:
            version = version_of(decode(raw))
            if isinstance(version, MemberVersion):
                check_member(version)
        except (ValueError, InvalidVersion) as err:
            log.warning("registry topic: skipped the record at offset %d: %s", offset, type(err).__name__)
            return
        self.registry.apply(version)
        self.version += 1

    async def write(self, event: BranchChanged | MemberChanged) -> None:
        """Publish a change and wait until this process has folded it (BrokerUnavailable, or
        TimeoutError if it is not read back within READ_BACK_S)."""
        await self._ensure_topic()
        key, value = encode(event)
        _, offset = await self._publisher.publish(self.topic, key, value)
        deadline = time.monotonic() + READ_BACK_S
        while self.position <= offset:
            self._moved.clear()
            await asyncio.wait_for(self._moved.wait(), max(0.01, deadline - time.monotonic()))

    async def _ensure_topic(self) -> None:
        if not self._topic_made:
            await ensure_topics(self._kafka, [self.topic], REGISTRY_TOPIC_CONFIG)
            self._topic_made = True

    async def run(self) -> None:
        await keep_running("registry topic", self._follow, detail=False)  # names in records

    async def _exists(self) -> bool:
        admin = AIOKafkaAdminClient(
            **self._kafka.client_options(), request_timeout_ms=self._kafka.request_timeout_ms
        )
        await admin.start()
        try:
            return self.topic in await admin.list_topics()
        finally:
            await admin.close()

    async def _follow(self) -> None:
        # Made by the first write, not by readers: an API that never registers leaves no topic behind.
        while not self._topic_made and not await self._exists():
            self.ready.set()  # nothing registered yet: an empty registry is the whole of it
            await asyncio.sleep(1.0)
        consumer = AIOKafkaConsumer(
            **self._kafka.client_options(), enable_auto_commit=False, fetch_max_wait_ms=50
        )
        await consumer.start()
        try:
            (tp,) = await partitions_of(self._kafka, [self.topic])
            consumer.assign([tp])
            consumer.seek(tp, self.position)  # after a restart of the loop: from where it stopped
            end = (await consumer.end_offsets([tp]))[tp]
            watch = FetchWatch(consumer, self._kafka)
            while True:
                await watch.look()
                batch = await consumer.getmany(tp, timeout_ms=200, max_records=5000)
                for r in batch.get(tp, []):
                    if r.value is not None and r.offset >= self.position:
                        self.apply(r.value, r.offset)
                        self.position = r.offset + 1
                self.position = max(self.position, await consumer.position(tp))
                if self.position >= end:
                    self.ready.set()
                self._moved.set()
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        await self._publisher.stop()
