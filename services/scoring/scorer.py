"""The worker's use case: decode a record, fold it into its branch's ledger, write the scores."""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.scoring import metrics
from services.scoring.core.facts import Fact, Void, fact_of
from services.scoring.core.ledger import Ledger, apply
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import score
from services.scoring.store import LedgerKey, ScoredLedger, ScoreStore, StoredLedger, summary
from shared.contracts import TOPICS, ContractError, ParsedEvent, parse_event

STREAM_OF_TOPIC = {t.name: s for s, t in TOPICS.items()}


@dataclass(frozen=True)
class Delivery:
    """A Kafka record as the worker received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Decoded:
    """A valid record: the ledger it belongs to and what to fold into it."""

    key: LedgerKey
    item: Fact | Void
    event: ParsedEvent


def decode(d: Delivery) -> Decoded:
    """Validate a record against the contract and its topic; raise ContractError with the reason."""
    event = parse_event(d.value)
    if event.event_type.stream is not STREAM_OF_TOPIC.get(d.topic):
        raise ContractError(f"{event.envelope.type} does not belong on topic {d.topic}")
    if d.key is None or d.key.decode(errors="replace") != event.envelope.subject:
        raise ContractError("record key must be the branch id (the envelope's subject)")
    item = fact_of(event)
    return Decoded(
        LedgerKey(event.envelope.subject, event.event_type.stream.value, item.month[:4]), item, event
    )


class DeadLetters(Protocol):
    async def send(self, delivery: Delivery, reason: str) -> None: ...


class ScoreFeed(Protocol):
    async def publish(self, generation: int, summaries: list[dict[str, Any]]) -> None: ...


@dataclass
class _LedgerBatch:
    """What one batch did to one ledger."""

    stored: StoredLedger
    applied: list[Decoded] = field(default_factory=list)


class Scorer:
    """Applies each record exactly once in effect: the ledger's offset says what it already holds."""

    def __init__(
        self,
        store: ScoreStore,
        feed: ScoreFeed,
        generation: int,
        rulebook: Rulebook,
        dead_letters: DeadLetters,
        clock: Callable[[], datetime],
        cache_size: int = 20_000,
    ):
        self._store, self._feed, self._generation = store, feed, generation
        self._rulebook = rulebook
        self._dead_letters, self._clock = dead_letters, clock
        # Ledgers of the partitions this worker owns, as it last wrote them. Valid only while it
        # owns them: forget() on every rebalance.
        self._cache: OrderedDict[LedgerKey, StoredLedger] = OrderedDict()
        self._cache_size = cache_size

    def forget(self) -> None:
        """Drop cached ledgers (partitions moved: another worker may have written since)."""
        self._cache.clear()

    async def _ledger(self, key: LedgerKey) -> StoredLedger:
        stored = self._cache.pop(key, None) or await self._store.load(key) or StoredLedger(Ledger(), -1)
        self._cache[key] = stored
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return stored

    async def handle(self, d: Delivery) -> str:
        """Apply one record; return its outcome (applied, voided, replayed or dead_lettered)."""
        return (await self.handle_batch([d]))[0]

    async def handle_batch(self, deliveries: list[Delivery]) -> list[str]:
        """Apply records in arrival order with one bulk write for the whole batch (each ledger
        written once however many records it got), then publish the touched ledgers' scores.
        Returns each record's outcome."""
        outcomes = ["dead_lettered"] * len(deliveries)
        batches: dict[LedgerKey, _LedgerBatch] = {}
        for i, d in enumerate(deliveries):
            try:
                decoded = decode(d)
            except ContractError as err:
                await self._dead_letters.send(d, str(err))
                metrics.DEAD_LETTERED.labels(d.topic).inc()
                metrics.EVENTS.labels("invalid", "dead_lettered").inc()
                continue
            batch = batches.get(decoded.key)
            if batch is None:
                batch = batches[decoded.key] = _LedgerBatch(await self._ledger(decoded.key))
            outcomes[i] = self._apply(batch, d, decoded)
        try:
            await self._write(batches)
        except BaseException:
            for key in batches:  # the cached copies are ahead of the store now: reload on retry
                self._cache.pop(key, None)
            raise
        self._observe(batches)
        return outcomes

    def _apply(self, batch: _LedgerBatch, d: Delivery, decoded: Decoded) -> str:
        # One ledger is fed by one partition: its records arrive in offset order.
        if d.offset <= batch.stored.offset:  # already in the ledger: a replay after a crash or rebalance
            metrics.EVENTS.labels(decoded.event.envelope.type, "replayed").inc()
            return "replayed"
        apply(batch.stored.ledger, decoded.item)
        batch.stored.offset = d.offset
        batch.applied.append(decoded)
        return "applied" if isinstance(decoded.item, Fact) else "voided"

    async def _write(self, batches: dict[LedgerKey, _LedgerBatch]) -> None:
        changed = [self._scored(k, b) for k, b in batches.items() if b.applied]
        started = time.perf_counter()
        await self._store.save(changed)
        metrics.MONGO_WRITE.observe(time.perf_counter() - started)
        # Replayed-only ledgers are published too: a crash between the write and the publish
        # must not leave readers behind, and the stored summary is what they should see.
        replayed = [k for k, b in batches.items() if not b.applied]
        summaries = [summary(s) for s in changed] + await self._store.summaries(replayed)
        await self._feed.publish(self._generation, summaries)

    def _scored(self, key: LedgerKey, batch: _LedgerBatch) -> ScoredLedger:
        # The whole year is derived again: caps and session de-duplication span the ledger.
        derived = score(batch.stored.ledger.facts.values(), self._rulebook)
        last_time = max(a.event.envelope.time for a in batch.applied)
        return ScoredLedger(key, batch.stored, derived, self._rulebook.version, last_time)

    def _observe(self, batches: dict[LedgerKey, _LedgerBatch]) -> None:
        now = self._clock()
        for batch in batches.values():
            for a in batch.applied:
                metrics.END_TO_END.observe(max((now - a.event.envelope.time).total_seconds(), 0))
                outcome = "applied" if isinstance(a.item, Fact) else "voided"
                metrics.EVENTS.labels(a.event.envelope.type, outcome).inc()
