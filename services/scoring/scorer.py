"""The worker's use case: decode a record, fold it into its branch's ledger, write the scores."""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.scoring import metrics
from services.scoring.core.facts import Fact, Void, fact_of
from services.scoring.core.ledger import Ledger, apply
from services.scoring.core.periods import periods_of_month
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import PeriodScore, score
from services.scoring.store import LedgerKey, ScoreStore, StoredLedger
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


class Scorer:
    """Applies each record exactly once in effect: the ledger's offset says what it already holds."""

    def __init__(
        self,
        store: ScoreStore,
        rulebook: Rulebook,
        dead_letters: DeadLetters,
        clock: Callable[[], datetime],
        cache_size: int = 20_000,
    ):
        self._store, self._rulebook = store, rulebook
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
        """Apply records in arrival order; one load and one write per ledger however many records
        it got, which is what makes a replay of a year's log fast. Returns each record's outcome."""
        outcomes = ["dead_lettered"] * len(deliveries)
        by_ledger: dict[LedgerKey, list[tuple[int, Delivery, Decoded]]] = {}
        for i, d in enumerate(deliveries):
            try:
                decoded = decode(d)
            except ContractError as err:
                await self._dead_letters.send(d, str(err))
                metrics.DEAD_LETTERED.labels(d.topic).inc()
                metrics.EVENTS.labels("invalid", "dead_lettered").inc()
                continue
            by_ledger.setdefault(decoded.key, []).append((i, d, decoded))
        for key, items in by_ledger.items():
            for i, outcome in await self._apply_to_ledger(key, items):
                outcomes[i] = outcome
        return outcomes

    async def _apply_to_ledger(
        self, key: LedgerKey, items: list[tuple[int, Delivery, Decoded]]
    ) -> list[tuple[int, str]]:
        stored = await self._ledger(key)
        results, applied, months = [], [], set()
        for i, d, decoded in items:  # one ledger is fed by one partition: these are in offset order
            if d.offset <= stored.offset:  # already in the ledger: a replay after a crash or rebalance
                results.append((i, "replayed"))
                metrics.EVENTS.labels(decoded.event.envelope.type, "replayed").inc()
                continue
            apply(stored.ledger, decoded.item)
            stored.offset = d.offset
            months.add(decoded.item.month)
            applied.append(decoded)
            results.append((i, "applied" if isinstance(decoded.item, Fact) else "voided"))
        if not applied:
            return results
        derived = score(stored.ledger.facts.values(), self._rulebook)
        periods = {p for m in months for p in periods_of_month(m)}
        last_time = max(a.event.envelope.time for a in applied)
        started = time.perf_counter()
        try:
            await self._store.save(
                key,
                stored,
                {p: derived.get(p, PeriodScore()) for p in periods},
                self._rulebook.version,
                last_time,
            )
        except BaseException:
            self._cache.pop(key, None)  # the cached copy is ahead of the store now: reload on retry
            raise
        metrics.MONGO_WRITE.observe(time.perf_counter() - started)
        now = self._clock()
        for a in applied:
            metrics.END_TO_END.observe(max((now - a.event.envelope.time).total_seconds(), 0))
            metrics.EVENTS.labels(
                a.event.envelope.type, "applied" if isinstance(a.item, Fact) else "voided"
            ).inc()
        return results
