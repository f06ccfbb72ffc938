"""The finalisation topic as the API holds it: a CloudEvents codec, a follower that folds the topic
from its beginning into every court's year (core/finalisation.apply), and a writer that waits to
see its own event folded, so that the topic decides between API processes writing at once."""

import asyncio
import logging
import uuid
from dataclasses import dataclass

import msgspec
from aiokafka import AIOKafkaConsumer

from services.scoring.core.finalisation import (
    AppealDecided,
    AppealFiled,
    CourtYear,
    Event,
    Finalised,
    apply,
    key_of,
)
from shared.contracts import TYPE_PREFIX
from shared.finalisations import FINALISATIONS
from shared.kafka import EVENT_TOPIC_CONFIG, KafkaPublisher, ensure_topics, partitions_of
from shared.kafka_watch import FetchWatch, keep_running
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
READ_BACK_S = 15.0  # how long a writer waits to see its event folded before answering 503
EVENT_TYPES: dict[type, str] = {
    Finalised: f"{TYPE_PREFIX}finalisation.finalised.v1",
    AppealFiled: f"{TYPE_PREFIX}finalisation.appeal_filed.v1",
    AppealDecided: f"{TYPE_PREFIX}finalisation.appeal_decided.v1",
}


class _Envelope(msgspec.Struct):
    type: str
    data: Event


_DECODER = msgspec.json.Decoder(_Envelope)


def envelope(event: Event, source: str) -> bytes:
    """The CloudEvent (structured JSON) carrying `event`; its id is the event's own."""
    return msgspec.json.encode(
        {
            "specversion": "1.0",
            "id": event.event_id,
            "source": source,
            "type": EVENT_TYPES[type(event)],
            "time": event.time,
            "subject": key_of(event.court, event.year),
            "datacontenttype": "application/json",
            "data": event,
        }
    )


def decode(raw: bytes) -> Event:
    """The event a topic record carries; ValueError for anything else."""
    try:
        doc = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ValueError(f"not a finalisation event: {err}") from None
    if doc.type != EVENT_TYPES[type(doc.data)]:
        raise ValueError(f"type {doc.type} does not match its data")
    return doc.data


def new_event_id() -> str:
    return uuid.uuid4().hex


class NotReadBack(RuntimeError):
    """The event was written but not folded back within READ_BACK_S: it may still count."""


@dataclass(frozen=True)
class Outcome:
    """What the fold made of a written event: `refused` None when it counted."""

    state: CourtYear
    refused: str | None


class FinalisationLog:
    """Every court's year as the topic says, read from its beginning and followed."""

    def __init__(self, kafka: KafkaSettings):
        self._kafka = kafka
        self._states: dict[tuple[str, str], CourtYear] = {}
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self._appeals: dict[str, tuple[str, str]] = {}  # appeal id -> (court, year)
        self.caught_up = False

    def state(self, court: str, year: str) -> CourtYear:
        return self._states.get((court, year), CourtYear())

    def appeal_court_year(self, appeal_id: str) -> tuple[str, str] | None:
        """The court and year an appeal was filed for (None: no such appeal counted)."""
        return self._appeals.get(appeal_id)

    def fold(self, states: dict[tuple[str, str], CourtYear], raw: bytes) -> None:
        """Apply one record to `states`; a writer waiting for it learns whether it counted."""
        try:
            event = decode(raw)
        except ValueError as err:
            log.warning("finalisation topic: skipped a record: %s", err)
            return
        where = (event.court, event.year)
        state, refused = apply(states.get(where, CourtYear()), event)
        states[where] = state
        if isinstance(event, AppealFiled) and refused is None:
            self._appeals[event.appeal_id] = where
        if refused is not None:
            log.info("finalisation topic: %s does not count: %s", event.event_id, refused)
        waiter = self._waiting.pop(event.event_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(Outcome(state, refused))

    async def run(self) -> None:
        """Follow the topic until cancelled, starting over after a broker failure."""
        await keep_running("finalisation topic", self._follow)

    async def _follow(self) -> None:
        await ensure_topics(self._kafka, [FINALISATIONS.name], EVENT_TOPIC_CONFIG)
        consumer = AIOKafkaConsumer(
            **self._kafka.client_options(), enable_auto_commit=False, fetch_max_wait_ms=50
        )
        await consumer.start()
        try:
            tps = await partitions_of(self._kafka, [FINALISATIONS.name])
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            # Rebuilt aside from the start: readers keep the states of the last complete read meanwhile.
            states: dict[tuple[str, str], CourtYear] = {}
            rebuilt = False
            watch = FetchWatch(consumer, self._kafka, [FINALISATIONS.name])
            while True:
                await watch.look()
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                for records in batch.values():
                    for r in records:
                        if r.value is not None:
                            self.fold(states, r.value)
                if not rebuilt and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    self._states, rebuilt, self.caught_up = states, True, True
        finally:
            await consumer.stop()

    async def write(self, publisher: KafkaPublisher, event: Event, source: str) -> Outcome:
        """Put `event` on the topic and return what the fold made of it (NotReadBack after READ_BACK_S)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[event.event_id] = waiter
        try:
            key = key_of(event.court, event.year).encode()
            await publisher.publish(FINALISATIONS.name, key, envelope(event, source))
            return await asyncio.wait_for(asyncio.shield(waiter), READ_BACK_S)
        except TimeoutError:
            raise NotReadBack(f"event {event.event_id} was written but is not read back yet") from None
        finally:
            self._waiting.pop(event.event_id, None)
