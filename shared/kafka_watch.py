"""Keeping a long-lived Kafka reader alive: starting it over after a failure, and noticing when it
has silently stopped.

Why both are needed: after a broker restart, aiokafka can end a consumer's fetch task without an
error (aio-libs/aiokafka#983), after which `getmany` answers nothing for ever while every other
call works; and a request in flight when its connection closes can surface as a CancelledError
in the caller, which a reader that re-raises every CancelledError takes for its own cancellation
and dies of. Either way a follower kept serving a view that no longer moved (the review queue
after the fault suite's broker kill)."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from prometheus_client import Counter

from shared.kafka import BrokerUnavailable, partitions_of
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
WATCH_EVERY_S = 10.0  # how often positions, ends and partitions are compared
RESTARTS = Counter(
    "kafka_reader_restarts_total",
    "Long-lived Kafka readers started over, by reader and reason (stalled: it had stopped fetching).",
    ["reader", "reason"],
)


class Stalled(RuntimeError):
    """A partition stayed behind its end without its position moving: the consumer stopped."""


class PartitionsChanged(RuntimeError):
    """A followed topic has other partitions than those being read (one was added)."""


class FetchWatch:
    """Looked at from a reader's loop: raises Stalled when a partition behind its end (and not
    paused) kept its position over `patience` looks `every_s` apart, and PartitionsChanged when
    the followed topics' partitions are no longer those assigned (when `topics` are named)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        kafka: KafkaSettings,
        topics: list[str] | None = None,
        every_s: float = WATCH_EVERY_S,
        patience: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._consumer, self._kafka, self._topics = consumer, kafka, topics
        self._every_s, self._patience, self._clock = every_s, patience, clock
        self._next = clock() + every_s
        self._still: dict[TopicPartition, tuple[int, int]] = {}  # behind: (position, looks unmoved)

    async def look(self) -> None:
        if self._clock() < self._next:
            return
        self._next = self._clock() + self._every_s
        try:
            async with asyncio.timeout(self._kafka.request_timeout_ms / 1000 + 5):
                await self._compare()
        except (KafkaError, OSError, BrokerUnavailable, TimeoutError) as err:
            # The broker away: no verdict (the reader's own calls meet the outage as before).
            log.debug("no look at the consumer's progress: %s", type(err).__name__)

    async def _compare(self) -> None:
        tps = sorted(self._consumer.assignment())
        if self._topics is not None and set(await partitions_of(self._kafka, self._topics)) != set(tps):
            raise PartitionsChanged(f"the partitions of {', '.join(self._topics)} changed")
        watched = [tp for tp in tps if tp not in self._consumer.paused()]
        ends = await self._consumer.end_offsets(watched) if watched else {}
        still = {}
        for tp in watched:
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:  # revoked by a rebalance meanwhile: not this reader's any more
                continue
            if position < ends[tp]:
                before, looks = self._still.get(tp, (-1, 0))
                still[tp] = (position, looks + 1 if before == position else 0)
                if still[tp][1] >= self._patience:
                    raise Stalled(f"{tp.topic}[{tp.partition}] stayed at {position}, behind {ends[tp]}")
        self._still = still


def count_restart(reader: str, err: BaseException) -> None:
    """Count a reader's start-over by its reason (kafka_reader_restarts_total)."""
    if isinstance(err, asyncio.CancelledError):
        reason = "cancelled"
    else:
        reason = "stalled" if isinstance(err, Stalled) else "error"
        reason = "partitions_changed" if isinstance(err, PartitionsChanged) else reason
    RESTARTS.labels(reader, reason).inc()


def cancelled_from_outside() -> bool:
    """Whether a CancelledError caught now is this task's own cancellation (to re-raise), not a
    client's request cancelled under it."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


async def keep_running(
    name: str,
    once: Callable[[], Awaitable[None]],
    pause_s: float = 1.0,
    detail: bool = True,
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> None:
    """Run `once` for the task's lifetime, again after any of `errors` and after a CancelledError
    that was not the task's own (see above). `detail=False` logs a failure's type only (its text
    may quote a record, e.g. a name)."""
    while True:
        try:
            await once()
            continue
        except asyncio.CancelledError as err:
            if cancelled_from_outside():
                raise
            count_restart(name, err)
            log.warning("%s: a request was cancelled under it; starting over", name)
        except errors as err:  # the broker away, a stalled consumer: start over once it answers
            count_restart(name, err)
            log.warning("%s: %s: %s; starting over", name, type(err).__name__, err if detail else "-")
        await asyncio.sleep(pause_s)
