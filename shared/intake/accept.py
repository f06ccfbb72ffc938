"""The intake use case: give each record an id, refuse conflicts, publish, and say what happened."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson
from pymongo.errors import PyMongoError

from shared.contracts import (
    DEFAULT_TIME_WINDOW,
    RESERVED_ID_PREFIX,
    TOPICS,
    ContractError,
    Payload,
    RecordVoided,
    Stream,
    TimeWindow,
    build_event,
    check_time_window,
    type_for,
)
from shared.intake import metrics
from shared.intake.receipts import Receipt, ReceiptStore
from shared.kafka import BrokerUnavailable

CONFLICT = "this id was already used for different content"


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
    return f"{RESERVED_ID_PREFIX}d-{digest[:40]}"


def void_id(event_id: str) -> str:
    """The id of the void of `event_id`: one per record, so a repeated void is a duplicate."""
    return f"{RESERVED_ID_PREFIX}void-{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"


def outside_window(payload: Payload, event_id: str | None, err: ContractError, window: TimeWindow) -> Outcome:
    """The 422 for a record timed outside the window, naming the model's own time field."""
    name = type(payload).time_field
    message = f"must lie within {window.describe()}"
    return Outcome(422, event_id, detail=str(err), errors=[{"field": name, "message": message}])


def event_type_of(envelope: bytes) -> str:
    return str(orjson.loads(envelope)["type"])


def id_of(receipt: Receipt) -> str:
    return receipt.key.partition(":")[2]


@dataclass
class Submission:
    """One call's records on their way: answers so far, receipts to claim, repeats of an id."""

    outcomes: list[Outcome | None]
    claims: list[tuple[int, Receipt]] = field(default_factory=list)
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (index, index of its first)


class Intake:
    """Accepts records of one stream; 202 only once Kafka has acknowledged them."""

    def __init__(
        self,
        stream: Stream,
        source: str,
        receipts: ReceiptStore,
        publisher: Publisher,
        clock: Callable[[], datetime],
        window: TimeWindow = DEFAULT_TIME_WINDOW,
    ):
        self.stream, self._source = stream, source
        self._receipts, self._publisher, self._clock = receipts, publisher, clock
        self._window = window

    def _key(self, event_id: str) -> str:
        return f"{self.stream.value}:{event_id}"

    async def submit_many(
        self, items: list[tuple[Payload, str | None]], review: Callable[[Payload], bool] | None = None
    ) -> list[Outcome]:
        """Accept (payload, sender's id or None) pairs; one outcome per item, in order. `review`:
        which count only once approved (a member's or clerk's submission: shared/intake/review.py)."""
        s = self._prepare(items, review)
        try:
            existing = await self._receipts.claim_many([r for _, r in s.claims])
        except PyMongoError:
            down = Outcome(503, detail="cannot record the receipt: database unavailable")
            return [o or down for o in s.outcomes]
        to_publish: list[tuple[int, Receipt]] = []
        for (i, new), old in zip(s.claims, existing, strict=True):
            if old is None:
                to_publish.append((i, new))
            elif old.content_hash != new.content_hash:
                s.outcomes[i] = Outcome(409, id_of(new), detail=CONFLICT)
            elif old.published:
                s.outcomes[i] = Outcome(202, id_of(new), duplicate=True)
            else:  # accepted before but Kafka never acknowledged it: publish the original envelope
                to_publish.append((i, old))
        await self._publish(to_publish, s.outcomes)
        for i, first in s.repeats:
            o = s.outcomes[first]
            s.outcomes[i] = Outcome(202, o.event_id, duplicate=True) if o and o.status == 202 else o
        return [o or Outcome(503, detail="not processed") for o in s.outcomes]

    def _prepare(
        self, items: list[tuple[Payload, str | None]], review: Callable[[Payload], bool] | None
    ) -> Submission:
        """Check times, give ids, build envelopes; an id repeated within the call is published once."""
        now = self._clock()
        s = Submission([None] * len(items))
        first_of: dict[str, tuple[int, str]] = {}  # key -> (index, content hash) of its first item
        for i, (payload, given_id) in enumerate(items):
            try:
                check_time_window(payload, now, self._window)
            except ContractError as err:
                s.outcomes[i] = outside_window(payload, given_id, err, self._window)
                continue
            digest = content_hash(payload)
            event_id = given_id or derived_id(digest)
            key = self._key(event_id)
            if (first := first_of.get(key)) is not None:
                if first[1] != digest:
                    s.outcomes[i] = Outcome(409, event_id, detail=CONFLICT)
                else:
                    s.repeats.append((i, first[0]))
                continue
            first_of[key] = (i, digest)
            needs_review = review is not None and review(payload)
            event = build_event(event_id, self._source, self.stream, payload, now, needs_review)
            envelope = event.model_dump_json()
            receipt = Receipt(key, digest, payload.branch_id, payload.occurred_at, envelope.encode())
            s.claims.append((i, receipt))
        return s

    async def _publish(self, batch: list[tuple[int, Receipt]], outcomes: list[Outcome | None]) -> None:
        if not batch:
            return
        topic = TOPICS[self.stream].name
        try:
            await self._publisher.publish_many(topic, [(r.branch_id, r.envelope) for _, r in batch])
        except BrokerUnavailable as err:
            metrics.count_failed(self._source, err.reason, len(batch))
            for i, r in batch:
                outcomes[i] = Outcome(503, id_of(r), detail=str(err))
            return
        metrics.count_published(self._source, [event_type_of(r.envelope) for _, r in batch])
        try:
            await self._receipts.mark_published([r.key for _, r in batch])
        except PyMongoError:
            pass  # Kafka has them; a retry re-publishes and the scoring fold drops the duplicate
        for i, r in batch:
            outcomes[i] = Outcome(202, id_of(r), duplicate=r.published)

    async def find(self, event_id: str) -> Receipt | None:
        """The receipt of `event_id` on this stream (PyMongoError when the database is away)."""
        return await self._receipts.get(self._key(event_id))

    async def void(
        self, event_id: str, reason: str, allowed: Callable[[Receipt], Awaitable[None]] | None = None
    ) -> Outcome:
        """Publish a correction that makes `event_id` stop counting; `allowed` may refuse (raise)
        once the record is found (the caller's reach is checked against its branch)."""
        try:
            receipt = await self._receipts.get(self._key(event_id))
        except PyMongoError:
            return Outcome(503, detail="database unavailable")
        if receipt is None:
            return Outcome(404, event_id, detail=f"no {self.stream.value} record with this id")
        if allowed is not None:
            await allowed(receipt)
        if event_type_of(receipt.envelope) == type_for(self.stream, voided=True):
            return Outcome(409, event_id, detail="this id is a void; only records can be voided")
        payload = RecordVoided(
            event_id=event_id,
            branch_id=receipt.branch_id,
            record_occurred_at=receipt.occurred_at,
            reason=reason,
        )
        return (await self.submit_many([(payload, void_id(event_id))]))[0]
