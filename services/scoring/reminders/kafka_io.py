"""Kafka adapters of the reminders: their topics, the published ids read back, the scheduler's leadership."""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.scoring.reminders.events import decode
from shared.contracts import REMINDER_CONTROL, REMINDER_DEAD_LETTER, REMINDERS
from shared.kafka import EVENT_TOPIC_CONFIG, ensure_topics, partitions_of
from shared.kafka_watch import cancelled_from_outside, count_restart
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
ID_HEADER = "reminder.id"
SESSION_TIMEOUT_MS = 30_000  # how long a silent scheduler keeps the schedule before another takes it


@dataclass(frozen=True)
class ReminderTopics:
    """The reminders' topics and consumer groups of one score database: one set per database (as
    the score feed's), so an API of another database on the same broker neither takes this one's
    schedule nor consumes its reminders."""

    database: str
    scheduler_group_prefix: str = "scoring-reminders-scheduler"
    delivery_group_prefix: str = "scoring-reminders-delivery"

    @property
    def reminders(self) -> str:
        return REMINDERS.of(self.database)

    @property
    def dead_letter(self) -> str:
        return REMINDER_DEAD_LETTER.of(self.database)

    @property
    def control(self) -> str:
        return REMINDER_CONTROL.of(self.database)

    @property
    def scheduler_group(self) -> str:
        return f"{self.scheduler_group_prefix}.{self.database}"

    @property
    def delivery_group(self) -> str:
        return f"{self.delivery_group_prefix}.{self.database}"


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """The broker and, where the settings carry them, its security options."""
    options = getattr(settings, "client_options", None)
    return options() if callable(options) else {"bootstrap_servers": settings.bootstrap_servers}


async def ensure_reminder_topics(settings: KafkaSettings, topics: ReminderTopics) -> None:
    """The reminder and dead-letter topics kept forever; the control topic with one partition."""
    await ensure_topics(settings, [topics.reminders, topics.dead_letter], EVENT_TOPIC_CONFIG)
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=settings.request_timeout_ms)
    await admin.start()
    try:
        if topics.control not in set(await admin.list_topics()):
            config = {"retention.ms": "86400000", "min.insync.replicas": str(settings.min_insync_replicas)}
            topic = NewTopic(topics.control, 1, settings.replication_factor, topic_configs=config)
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def published_ids(settings: KafkaSettings, topics: ReminderTopics) -> set[str]:
    """Every reminder id the topic holds, read from its beginning to its end now: the memory that
    keeps a restarted (or newly elected) scheduler from publishing anything twice."""
    partitions = await partitions_of(settings, [topics.reminders])
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: set[str] = set()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    found.add(_id_of(record))
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found


def _id_of(record: Any) -> str:
    for key, value in record.headers or ():
        if key == ID_HEADER:
            return value.decode()
    return str(decode(record.value)["id"])


class Leadership(ConsumerRebalanceListener):
    """Holds the schedule while this process owns the control topic's one partition in the
    scheduler group: however many API processes run, the broker gives it to exactly one; when that
    one stops (or stops heartbeating), the group hands it to another."""

    def __init__(self, settings: KafkaSettings, topics: ReminderTopics):
        self._settings, self._topics = settings, topics
        self.held = False
        self.term = 0  # counts gains: a new term reads the memory back again

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.held = False

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.held = bool(assigned)
        if self.held:
            self.term += 1

    async def run(self) -> None:
        """Stay a member of the group for the process's lifetime (rejoining after broker outages)."""
        while True:
            consumer = AIOKafkaConsumer(
                **client_options(self._settings),
                group_id=self._topics.scheduler_group,
                enable_auto_commit=False,
                # Heartbeats share the API's event loop, which a loaded machine may hold for seconds.
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=3_000,
            )
            try:
                await ensure_reminder_topics(self._settings, self._topics)
                consumer.subscribe([self._topics.control], listener=self)
                await consumer.start()
                while True:
                    await consumer.getmany(timeout_ms=1000)
            except asyncio.CancelledError as err:
                if cancelled_from_outside():
                    raise
                count_restart("reminder scheduler group", err)
                log.warning("reminder scheduler group: a request was cancelled under it; rejoining")
                await asyncio.sleep(2.0)
            except Exception as err:  # the broker away: try again, holding nothing meanwhile
                log.warning("reminder scheduler group: %s; rejoining", err)
                self.held = False
                await asyncio.sleep(2.0)
            finally:
                self.held = False
                await consumer.stop()
