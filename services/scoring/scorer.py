"""The worker's use case: decode a record, fold it into its branch's ledger, write the scores."""

import asyncio
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
from services.scoring.store import LedgerKey, ScoredLedger, ScoreStore, StoredLedger
from shared.contracts import TOPICS, ContractError, ParsedEvent, parse_event

STREAM_OF_TOPIC = {t.name: s for s, t in TOPICS.items()}
LOADS_IN_FLIGHT = 16


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

    async def _ledgers(self, keys: set[LedgerKey]) -> dict[LedgerKey, StoredLedger]:
        """The batch's ledgers: from the cache, else loaded (concurrently: a batch of thousands
        of branches would otherwise wait for thousands of round trips one after another)."""
        found = {k: self._cache.pop(k) for k in keys if k in self._cache}
        missing = [k for k in keys if k not in found]
        gate = asyncio.Semaphore(LOADS_IN_FLIGHT)

        async def load(key: LedgerKey) -> StoredLedger:
            async with gate:
                return await self._store.load(key) or StoredLedger(Ledger(), -1)

        found.update(zip(missing, await asyncio.gather(*(load(k) for k in missing)), strict=True))
        self._cache.update(found)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found

    async def handle(self, d: Delivery) -> str:
        """Apply one record; return its outcome (applied, voided, replayed or dead_lettered)."""
        return (await self.handle_batch([d]))[0]

    async def handle_batch(self, deliveries: list[Delivery]) -> list[str]:
        """Apply records in arrival order with one bulk write for the whole batch (each ledger
        written once however many records it got), then publish the touched ledgers' scores.
        Returns each record's outcome."""
        outcomes = ["dead_lettered"] * len(deliveries)
        valid: list[tuple[int, Delivery, Decoded]] = []
        for i, d in enumerate(deliveries):
            try:
                valid.append((i, d, decode(d)))
            except ContractError as err:
                await self._dead_letters.send(d, str(err))
                metrics.DEAD_LETTERED.labels(d.topic).inc()
                metrics.EVENTS.labels("invalid", "dead_lettered").inc()
        stored = await self._ledgers({decoded.key for _, _, decoded in valid})
        batches: dict[LedgerKey, _LedgerBatch] = {}
        for i, d, decoded in valid:
            batch = batches.get(decoded.key)
            if batch is None:
                batch = batches[decoded.key] = _LedgerBatch(stored[decoded.key])
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
        scored = {k: self._scored(k, b) for k, b in batches.items()}
        started = time.perf_counter()
        await self._store.save([scored[k] for k, b in batches.items() if b.applied])
        metrics.MONGO_WRITE.observe(time.perf_counter() - started)
        # Replayed-only ledgers are published too: a crash between the write and the publish
        # must not leave readers behind, and the stored ledger is what they should see.
        await self._feed.publish(self._generation, [s.summary for s in scored.values()])

    def _scored(self, key: LedgerKey, batch: _LedgerBatch) -> ScoredLedger:
        # The whole year is derived again: caps and session de-duplication span the ledger.
        stored = batch.stored
        times = [a.event.envelope.time for a in batch.applied]
        if stored.last_event_time is not None:
            times.append(stored.last_event_time)
        stored.last_event_time = max(times, default=None)
        derived = score(stored.ledger.facts.values(), self._rulebook)
        return ScoredLedger(key, stored, derived, self._rulebook.version)

    def _observe(self, batches: dict[LedgerKey, _LedgerBatch]) -> None:
        now = self._clock()
        for batch in batches.values():
            for a in batch.applied:
                metrics.END_TO_END.observe(max((now - a.event.envelope.time).total_seconds(), 0))
                outcome = "applied" if isinstance(a.item, Fact) else "voided"
                metrics.EVENTS.labels(a.event.envelope.type, outcome).inc()
