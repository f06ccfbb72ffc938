"""The intake use case: give each record an id, refuse conflicts, publish, and say what happened."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import orjson
from pymongo.errors import PyMongoError

from shared.contracts import TOPICS, Payload, RecordVoided, Stream, build_event
from shared.intake.receipts import Receipt, ReceiptStore
from shared.kafka import BrokerUnavailable

MAX_CLOCK_SKEW = timedelta(minutes=5)


class Publisher(Protocol):
    async def publish_many(self, topic: str, records: list[tuple[str, bytes]]) -> list[tuple[int, int]]: ...


@dataclass
class Outcome:
    """What became of one submitted record."""

    status: int  # 202, 404, 409, 422 or 503
    event_id: str | None = None
    duplicate: bool = False
    detail: str = "accepted"
    errors: list[dict] = field(default_factory=list)


def content_hash(payload: Payload) -> str:
    """A hash of the payload's canonical JSON: equal content, equal hash, whatever the key order."""
    canonical = orjson.dumps(payload.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def derived_id(digest: str) -> str:
    """The id of a record sent without one: from its content, so an identical resend is a duplicate."""
    return f"d-{digest[:40]}"


def void_id(event_id: str) -> str:
    return f"void-{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"


class Intake:
    """Accepts records of one stream; 202 only once Kafka has acknowledged them."""

    def __init__(
        self,
        stream: Stream,
        source: str,
        receipts: ReceiptStore,
        publisher: Publisher,
        clock: Callable[[], datetime],
    ):
        self.stream, self._source = stream, source
        self._receipts, self._publisher, self._clock = receipts, publisher, clock

    def _key(self, event_id: str) -> str:
        return f"{self.stream.value}:{event_id}"

    async def submit_many(self, items: list[tuple[Payload, str | None]]) -> list[Outcome]:
        """Accept (payload, sender's id or None) pairs; one outcome per item, in order."""
        now = self._clock()
        outcomes: list[Outcome | None] = [None] * len(items)
        claims: list[tuple[int, Receipt]] = []
        for i, (payload, given_id) in enumerate(items):
            occurred = payload.occurred_at
            if occurred > now + MAX_CLOCK_SKEW:
                outcomes[i] = Outcome(
                    422,
                    given_id,
                    detail="time is in the future",
                    errors=[
                        {"field": "occurred_at", "message": "must not be more than 5 minutes in the future"}
                    ],
                )
                continue
            digest = content_hash(payload)
            event_id = given_id or derived_id(digest)
            envelope = build_event(event_id, self._source, self.stream, payload, now)
            claims.append(
                (
                    i,
                    Receipt(
                        self._key(event_id),
                        digest,
                        payload.branch_id,
                        occurred,
                        envelope.model_dump_json().encode(),
                    ),
                )
            )
        try:
            existing = await self._receipts.claim_many([r for _, r in claims])
        except PyMongoError:
            return [
                o or Outcome(503, detail="cannot record the receipt: database unavailable") for o in outcomes
            ]
        to_publish: list[tuple[int, Receipt]] = []
        for (i, new), old in zip(claims, existing, strict=True):
            event_id = new.key.partition(":")[2]
            if old is None:
                to_publish.append((i, new))
            elif old.content_hash != new.content_hash:
                outcomes[i] = Outcome(409, event_id, detail="this id was already used for different content")
            elif old.published:
                outcomes[i] = Outcome(202, event_id, duplicate=True)
            else:  # accepted before but Kafka never acknowledged it: publish the original envelope
                to_publish.append((i, old))
        await self._publish(to_publish, outcomes)
        return [o if o is not None else Outcome(503, detail="not processed") for o in outcomes]

    async def _publish(self, batch: list[tuple[int, Receipt]], outcomes: list[Outcome | None]) -> None:
        if not batch:
            return
        topic = TOPICS[self.stream].name
        try:
            await self._publisher.publish_many(topic, [(r.branch_id, r.envelope) for _, r in batch])
            await self._receipts.mark_published([r.key for _, r in batch])
        except BrokerUnavailable as err:
            for i, r in batch:
                outcomes[i] = Outcome(503, r.key.partition(":")[2], detail=str(err))
            return
        except PyMongoError:
            pass  # Kafka has them; a retry re-publishes and the scoring fold drops the duplicate
        for i, r in batch:
            outcomes[i] = Outcome(202, r.key.partition(":")[2], duplicate=r.published)

    async def void(self, event_id: str, reason: str) -> Outcome:
        """Publish a correction that makes `event_id` stop counting."""
        try:
            receipt = await self._receipts.get(self._key(event_id))
        except PyMongoError:
            return Outcome(503, detail="database unavailable")
        if receipt is None:
            return Outcome(404, event_id, detail=f"no {self.stream.value} record with this id")
        payload = RecordVoided(
            event_id=event_id,
            branch_id=receipt.branch_id,
            record_occurred_at=receipt.occurred_at,
            reason=reason,
        )
        return (await self.submit_many([(payload, void_id(event_id))]))[0]
