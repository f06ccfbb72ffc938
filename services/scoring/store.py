"""MongoDB adapter for ledgers and period scores, written only by the owner of their partition."""

import asyncio
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
from services.scoring.core.scores import PeriodScore
from services.scoring.generations import Generation

FACT_FIELDS = [f.name for f in fields(Fact)]


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


class ScoreStore(Protocol):
    async def load(self, key: LedgerKey) -> StoredLedger | None: ...

    async def save(
        self,
        key: LedgerKey,
        stored: StoredLedger,
        scores: dict[str, PeriodScore],
        rulebook_version: str,
        last_event_time: datetime,
    ) -> None: ...


def _period_doc(key: LedgerKey, period: str, s: PeriodScore, offset: int, version: str, at: datetime) -> dict:
    return {
        "_id": f"{key.branch_id}|{key.stream}|{period}",
        "branch_id": key.branch_id,
        "stream": key.stream,
        "period": period,
        "points": s.points,
        "kinds": {k: asdict(t) for k, t in s.kinds.items()},
        "caps_hit": s.caps_hit,
        "members": sorted(s.members),
        "offset": offset,
        "rulebook_version": version,
        "last_event_time": at,
    }


class MongoScoreStore:
    """Absolute values, never increments: a document says what the ledger held at its offset.

    The offset is the version guard, checked by the one writer (the Scorer) against the stored
    ledger before it applies anything, so replays after a crash or a rebalance change nothing.
    Faust finishes a partition's batch in hand before giving the partition away, so no stale
    writer follows the new owner."""

    def __init__(self, db: AsyncDatabase, generation: Generation):
        self._ledgers = db[generation.ledgers]
        self._scores = db[generation.period_scores]
        # One write at a time per process: the server serialises them anyway (SQLite under
        # FerretDB), and FerretDB 1.24 was seen to stall under concurrent update transactions.
        self._writing = asyncio.Lock()

    async def ensure_indexes(self) -> None:
        await self._scores.create_index([("period", ASCENDING)])

    async def load(self, key: LedgerKey) -> StoredLedger | None:
        doc = await self._ledgers.find_one({"_id": key.id})
        if doc is None:
            return None
        columns = doc["facts"]
        facts = {f.event_id: f for f in map(Fact, *(columns[name] for name in FACT_FIELDS))}
        return StoredLedger(Ledger(facts, set(doc["voided"])), doc["offset"])

    async def save(
        self,
        key: LedgerKey,
        stored: StoredLedger,
        scores: dict[str, PeriodScore],
        rulebook_version: str,
        last_event_time: datetime,
    ) -> None:
        # Period scores first, the ledger (whose offset marks the event applied) last: a crash in
        # between replays the event, which derives the same scores again.
        async with self._writing:
            await self._write_all(key, stored, scores, rulebook_version, last_event_time)

    async def _write_all(
        self, key: LedgerKey, stored: StoredLedger, scores: dict[str, PeriodScore], version: str, at: datetime
    ) -> None:
        offset = stored.offset
        docs = [_period_doc(key, p, s, offset, version, at) for p, s in scores.items()]
        await _write(self._scores, docs)
        ledger_doc = {
            "_id": key.id,
            **asdict(key),
            "offset": offset,
            # Facts as columns (one array per field): the ledger is read and written whole, and
            # FerretDB stores neither nested arrays nor many small documents cheaply.
            "facts": {name: [getattr(f, name) for f in stored.ledger.facts.values()] for name in FACT_FIELDS},
            "voided": sorted(stored.ledger.voided),
        }
        await _write(self._ledgers, [ledger_doc])


async def _write(collection: AsyncCollection, docs: list[dict]) -> None:
    # Filters on `_id` alone: FerretDB serves only those from its index and scans the whole
    # collection for anything more (even `{_id: x, offset: {$lt: y}}`).
    for doc in docs:
        await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
