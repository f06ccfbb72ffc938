"""Kafka adapters the services share: topic provisioning and an idempotent publisher."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)

from shared.contracts import AUDIT, DEAD_LETTER, TOPICS
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)

# The event topics are the system's source of truth (a rescore replays them), so they keep
# every record; compaction would drop all but the last event of each branch.
EVENT_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


# Why a write failed, as a short fixed word: fit for a metric label (never an exception message,
# which may carry host names).
UNREACHABLE, ACK_TIMEOUT, BROKER_ERROR = "broker_unavailable", "ack_timeout", "broker_error"
FAILURE_REASONS = (UNREACHABLE, ACK_TIMEOUT, BROKER_ERROR)


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time; the caller should answer 503 and let the sender retry."""

    def __init__(self, message: str, reason: str = UNREACHABLE):
        super().__init__(message)
        self.reason = reason


class RecordTooLarge(ValueError):
    """The broker will never take this record (over its message size): retrying cannot help."""


_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)


def failure_reason(err: BaseException) -> str:
    """Classify a failed write as one of FAILURE_REASONS."""
    if isinstance(err, TimeoutError | KafkaTimeoutError | RequestTimedOutError):
        return ACK_TIMEOUT
    if isinstance(err, KafkaConnectionError | NodeNotReadyError | OSError):
        return UNREACHABLE
    return BROKER_ERROR


async def ensure_topics(
    settings: KafkaSettings, names: Iterable[str] | None = None, config: dict[str, str] | None = None
) -> None:
    """Create the event topics, the dead-letter and the audit topic, or the topics named (with `config`
    instead of the event topics' keep-everything settings), if missing (idempotent, race-safe).
    Every topic gets the settings' replication factor and `min.insync.replicas` (over the caller's)."""
    wanted = list(names) if names is not None else [t.name for t in TOPICS.values()]
    if names is None:
        wanted += [DEAD_LETTER.name, AUDIT.name]
    admin = AIOKafkaAdminClient(**settings.client_options(), request_timeout_ms=settings.request_timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if not missing:
            return
        # With acks=all, a write then needs that many replicas: on a cluster, a broker may be away.
        configs = {**(config or EVENT_TOPIC_CONFIG), "min.insync.replicas": str(settings.min_insync_replicas)}
        topics = [
            NewTopic(n, settings.partitions, settings.replication_factor, topic_configs=configs)
            for n in missing
        ]
        try:
            await admin.create_topics(topics)
        except TopicAlreadyExistsError:
            pass  # another service created it between our list and create
    finally:
        await admin.close()


async def partitions_of(settings: KafkaSettings, names: list[str]) -> list[TopicPartition]:
    """Every partition of the named topics, as the broker describes them."""
    admin = AIOKafkaAdminClient(**settings.client_options(), request_timeout_ms=settings.request_timeout_ms)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    # A topic whose leader is not elected yet comes back with an error and no partitions (or not
    # at all): answering with fewer partitions would make a reader think it had read everything.
    found = {d.get("topic"): d for d in described}
    for name in names:
        d = found.get(name)
        if d is None or d.get("error_code") or not d.get("partitions"):
            raise BrokerUnavailable(f"topic {name} not available yet")
    return sorted(TopicPartition(name, p["partition"]) for name in names for p in found[name]["partitions"])


class KafkaPublisher:
    """Publishes records and returns only once every in-sync replica has them.

    Idempotence (which implies acks=all) keeps the producer's own retries from writing a record
    twice; a caller's retry after a timeout may still write it twice, which is why every event
    carries an id that the scoring fold deduplicates.
    """

    def __init__(self, settings: KafkaSettings, client_id: str, ack_timeout_s: float = 5.0):
        self._settings = settings
        self._client_id = client_id
        self._ack_timeout_s = ack_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _ensure_started(self) -> AIOKafkaProducer:
        # Started lazily so a service comes up (and reports not-ready) while the broker is down.
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self._settings.client_options(),
                    client_id=self._client_id,
                    enable_idempotence=True,
                    acks="all",
                    linger_ms=2,
                    request_timeout_ms=self._settings.request_timeout_ms,
                )
                try:
                    await asyncio.wait_for(producer.start(), self._ack_timeout_s)
                except (KafkaError, OSError, TimeoutError) as err:
                    await producer.stop()
                    raise BrokerUnavailable(f"cannot reach Kafka: {type(err).__name__}", UNREACHABLE) from err
                self._producer = producer
        return self._producer

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> tuple[int, int]:
        """Write one record (raw key, optional headers); return (partition, offset) once acknowledged."""
        producer = await self._ensure_started()
        try:
            meta = await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key, headers=headers), self._ack_timeout_s
            )
        except _TOO_LARGE as err:
            raise RecordTooLarge(f"{len(value)} bytes: over the broker's message size") from err
        except (KafkaError, OSError, TimeoutError) as err:
            raise BrokerUnavailable(
                f"Kafka did not acknowledge: {type(err).__name__}", failure_reason(err)
            ) from err
        return meta.partition, meta.offset

    async def publish_many(self, topic: str, records: list[tuple[str, bytes]]) -> list[tuple[int, int]]:
        """Write records (in order per key); return their (partition, offset) once all are acknowledged."""
        producer = await self._ensure_started()

        async def send_all() -> list:
            # send() itself waits for metadata while the broker is away: bound it with the acks.
            return await asyncio.gather(*await _enqueue(producer, topic, records))

        try:
            metas = await asyncio.wait_for(send_all(), self._ack_timeout_s)
        except (*_TOO_LARGE, KafkaError, OSError, TimeoutError) as err:
            raise _refused(err, topic, "acknowledge") from err
        return [(m.partition, m.offset) for m in metas]

    async def send_many(self, topic: str, records: list[tuple[str, bytes]]) -> Callable[[], Awaitable[None]]:
        """Hand records (in order per key) to the producer and return at once with a confirm()
        that waits for their acknowledgements: a caller that must not wait per batch (the worker's
        score feed) confirms before it commits. Both raise BrokerUnavailable or RecordTooLarge."""
        producer = await self._ensure_started()
        try:
            futures = await asyncio.wait_for(_enqueue(producer, topic, records), self._ack_timeout_s)
        except (*_TOO_LARGE, KafkaError, OSError, TimeoutError) as err:
            raise _refused(err, topic, "take records") from err
        acks = asyncio.gather(*futures, return_exceptions=True)  # retrieved even if never confirmed

        async def confirm() -> None:
            try:
                results = await asyncio.wait_for(asyncio.shield(acks), self._ack_timeout_s)
            except TimeoutError as err:
                raise _refused(err, topic, "acknowledge") from err
            for result in results:
                if isinstance(result, BaseException):
                    raise _refused(result, topic, "acknowledge") from result

        return confirm

    async def publish_each(
        self, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
    ) -> list[RecordTooLarge | None]:
        """Write records (key, value, headers; in order per key) and wait for every acknowledgement;
        each result is None, or RecordTooLarge for a record the broker will never take (the rest are
        written). BrokerUnavailable when the broker did not acknowledge them all."""
        producer = await self._ensure_started()

        async def send_all() -> list[RecordTooLarge | None]:
            # Appended one after another, so records of one key keep their order.
            results: list[RecordTooLarge | None] = []
            pending = []
            for key, value, headers in records:
                try:
                    pending.append(await producer.send(topic, value=value, key=key, headers=headers))
                    results.append(None)
                except _TOO_LARGE:
                    pending.append(None)
                    results.append(RecordTooLarge(f"{len(value)} bytes: over the broker's message size"))
            for i, future in enumerate(pending):
                if future is not None:
                    try:
                        await future
                    except _TOO_LARGE:  # the broker's own limit may be lower than the client's
                        results[i] = RecordTooLarge(f"{len(records[i][1])} bytes: over the broker's limit")
            return results

        try:
            return await asyncio.wait_for(send_all(), self._ack_timeout_s)
        except (KafkaError, OSError, TimeoutError) as err:
            raise BrokerUnavailable(
                f"Kafka did not acknowledge: {type(err).__name__}", failure_reason(err)
            ) from err

    async def check(self) -> str | None:
        """None when the broker answers a metadata request, else the reason."""
        try:
            producer = await self._ensure_started()
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0)
        except (BrokerUnavailable, KafkaError, OSError, TimeoutError) as err:
            return f"kafka: {err or type(err).__name__}"
        return None

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def _refused(err: BaseException, topic: str, what: str) -> RecordTooLarge | BrokerUnavailable:
    """The port's error for a record of `topic` the broker would not take: too large for it ever
    to, or the broker away (it did not `what`)."""
    if isinstance(err, _TOO_LARGE):
        return RecordTooLarge(f"a record of {topic} is over the broker's message size")
    return BrokerUnavailable(f"Kafka did not {what}: {type(err).__name__}", failure_reason(err))


async def _enqueue(producer: AIOKafkaProducer, topic: str, records: list[tuple[str, bytes]]) -> list:
    return [await producer.send(topic, value=v, key=k.encode()) for k, v in records]
