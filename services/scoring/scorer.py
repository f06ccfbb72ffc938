"""The worker's use case: decode a record, fold it into its branch's ledger, write the scores."""

import time
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
        self, store: ScoreStore, rulebook: Rulebook, dead_letters: DeadLetters, clock: Callable[[], datetime]
    ):
        self._store, self._rulebook = store, rulebook
        self._dead_letters, self._clock = dead_letters, clock

    async def handle(self, d: Delivery) -> str:
        """Apply one record; return the outcome (applied, voided, replayed or dead_lettered)."""
        try:
            decoded = decode(d)
        except ContractError as err:
            await self._dead_letters.send(d, str(err))
            metrics.DEAD_LETTERED.labels(d.topic).inc()
            metrics.EVENTS.labels("invalid", "dead_lettered").inc()
            return "dead_lettered"
        key, item, event = decoded.key, decoded.item, decoded.event
        stored = await self._store.load(key) or StoredLedger(Ledger(), -1)
        if d.offset <= stored.offset:  # already in the ledger: a replay after a crash or rebalance
            metrics.EVENTS.labels(event.envelope.type, "replayed").inc()
            return "replayed"
        apply(stored.ledger, item)
        stored.offset = d.offset
        derived = score(stored.ledger.facts.values(), self._rulebook)
        scores = {p: derived.get(p, PeriodScore()) for p in periods_of_month(item.month)}
        started = time.perf_counter()
        await self._store.save(key, stored, scores, self._rulebook.version, event.envelope.time)
        metrics.MONGO_WRITE.observe(time.perf_counter() - started)
        metrics.END_TO_END.observe(max((self._clock() - event.envelope.time).total_seconds(), 0))
        outcome = "applied" if isinstance(item, Fact) else "voided"
        metrics.EVENTS.labels(event.envelope.type, outcome).inc()
        return outcome
