"""MongoDB adapter for ledgers and period scores, written only by the owner of their partition."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
from services.scoring.core.scores import PeriodScore
from services.scoring.generations import Generation


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
    """Writes absolute values guarded by the partition offset, never increments, so replays,
    crashes before commit and stale writers after a rebalance cannot count anything twice."""

    def __init__(self, db: AsyncDatabase, generation: Generation):
        self._ledgers = db[generation.ledgers]
        self._scores = db[generation.period_scores]

    async def ensure_indexes(self) -> None:
        await self._scores.create_index([("period", ASCENDING)])

    async def load(self, key: LedgerKey) -> StoredLedger | None:
        doc = await self._ledgers.find_one({"_id": key.id})
        if doc is None:
            return None
        facts = {f["event_id"]: Fact(**f) for f in doc["facts"]}
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
        offset = stored.offset
        writes = [
            ReplaceOne({"_id": doc["_id"], "offset": {"$lt": offset}}, doc, upsert=True)
            for doc in (
                _period_doc(key, p, s, offset, rulebook_version, last_event_time) for p, s in scores.items()
            )
        ]
        await self._guarded_bulk(self._scores, writes)
        ledger_doc = {
            "_id": key.id,
            **asdict(key),
            "offset": offset,
            "facts": [asdict(f) for f in stored.ledger.facts.values()],
            "voided": sorted(stored.ledger.voided),
        }
        await self._guarded_bulk(
            self._ledgers, [ReplaceOne({"_id": key.id, "offset": {"$lt": offset}}, ledger_doc, upsert=True)]
        )

    @staticmethod
    async def _guarded_bulk(collection, writes: list[ReplaceOne]) -> None:  # type: ignore[no-untyped-def]
        if not writes:
            return
        try:
            await collection.bulk_write(writes, ordered=False)
        except BulkWriteError as err:
            # A duplicate key means the document already holds this offset or a later one.
            if any(e["code"] != 11000 for e in err.details.get("writeErrors", [])):
                raise
        except DuplicateKeyError:
            pass
