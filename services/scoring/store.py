"""MongoDB adapter for ledgers and their scores, written only by the owner of their partition."""

import asyncio
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
from services.scoring.core.scores import PeriodScore
from services.scoring.generations import Generation

FACT_FIELDS = [f.name for f in fields(Fact)]
WRITE_CHUNK = 200  # documents per bulk command: big enough to amortise, small enough to stay quick


@dataclass(frozen=True)
class LedgerKey:
    """One branch's facts of one stream in one year: fed by exactly one partition."""

    branch_id: str
    stream: str
    year: str

    @property
    def id(self) -> str:
        return f"{self.branch_id}|{self.stream}|{self.year}"


@dataclass
class StoredLedger:
    ledger: Ledger
    offset: int  # the last applied offset of the partition that feeds this ledger


@dataclass(frozen=True)
class ScoredLedger:
    """A ledger with every period score derived from it: what one document holds."""

    key: LedgerKey
    stored: StoredLedger
    scores: dict[str, PeriodScore]
    rulebook_version: str
    last_event_time: datetime | None


class ScoreStore(Protocol):
    async def load(self, key: LedgerKey) -> StoredLedger | None: ...

    async def save(self, scored: list[ScoredLedger]) -> None: ...

    async def summaries(self, keys: Iterable[LedgerKey]) -> list[dict[str, Any]]: ...


def period_doc(s: PeriodScore) -> dict[str, Any]:
    return {
        "points": s.points,
        "kinds": {k: asdict(t) for k, t in s.kinds.items()},
        "caps_hit": s.caps_hit,
        "members": sorted(s.members),
    }


def summary(scored: ScoredLedger) -> dict[str, Any]:
    """What readers need of a ledger: its scores per period, without the facts."""
    return {
        "_id": scored.key.id,
        **asdict(scored.key),
        "offset": scored.stored.offset,
        "rulebook_version": scored.rulebook_version,
        "last_event_time": scored.last_event_time,
        "scores": {p: period_doc(s) for p, s in sorted(scored.scores.items())},
    }


def ledger_doc(scored: ScoredLedger) -> dict[str, Any]:
    ledger = scored.stored.ledger
    return {
        **summary(scored),
        # Facts as columns (one array per field): the ledger is read and written whole, and
        # FerretDB stores neither nested arrays nor many small documents cheaply.
        "facts": {name: [getattr(f, name) for f in ledger.facts.values()] for name in FACT_FIELDS},
        "voided": sorted(ledger.voided),
    }


def period_rows(summaries: Iterable[dict[str, Any]], periods: set[str]) -> list[dict[str, Any]]:
    """Flatten ledger summaries into one row per (branch, stream, period) asked for."""
    return [
        {
            "branch_id": s["branch_id"],
            "stream": s["stream"],
            "period": period,
            **score,
            "last_event_time": s["last_event_time"],
        }
        for s in summaries
        for period, score in s["scores"].items()
        if period in periods
    ]


class MongoScoreStore:
    """One document per ledger: its facts, its offset and every period score derived from them.

    Absolute values, never increments: a document says what the ledger held at its offset. The
    offset is the version guard, checked by the one writer (the Scorer) against the stored ledger
    before it applies anything, so replays after a crash or a rebalance change nothing. Faust
    finishes a partition's batch in hand before giving the partition away, so no stale writer
    follows the new owner."""

    def __init__(self, db: AsyncDatabase, generation: Generation):
        self._ledgers = db[generation.ledgers]
        # One write at a time per process: the server serialises them anyway (SQLite under FerretDB).
        self._writing = asyncio.Lock()

    async def load(self, key: LedgerKey) -> StoredLedger | None:
        # Filters on `_id` alone: FerretDB serves only those from an index.
        doc = await self._ledgers.find_one({"_id": key.id}, {"facts": 1, "voided": 1, "offset": 1})
        if doc is None:
            return None
        columns = doc["facts"]
        facts = {f.event_id: f for f in map(Fact, *(columns[name] for name in FACT_FIELDS))}
        return StoredLedger(Ledger(facts, set(doc["voided"])), doc["offset"])

    async def save(self, scored: list[ScoredLedger]) -> None:
        """Replace the ledgers' documents, a chunk per bulk command."""
        docs = [ledger_doc(s) for s in scored]
        async with self._writing:
            for start in range(0, len(docs), WRITE_CHUNK):
                chunk = docs[start : start + WRITE_CHUNK]
                await self._ledgers.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in chunk])

    async def insert_new(self, scored: list[ScoredLedger]) -> None:
        """Write documents that cannot exist yet (a rescore's fresh generation): plain inserts."""
        docs = [ledger_doc(s) for s in scored]
        for start in range(0, len(docs), WRITE_CHUNK):
            await self._ledgers.bulk_write([InsertOne(d) for d in docs[start : start + WRITE_CHUNK]])

    async def summaries(self, keys: Iterable[LedgerKey]) -> list[dict[str, Any]]:
        """The stored summaries of some ledgers (those that exist), each looked up by `_id`."""
        found = []
        for key in keys:
            doc = await self._ledgers.find_one({"_id": key.id}, {"facts": 0, "voided": 0})
            if doc is not None:
                found.append(doc)
        return found
