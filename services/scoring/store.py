"""MongoDB adapter for ledgers and their scores, written only by the owner of their partition."""

import asyncio
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

import bson
from bson.errors import BSONError
from bson.raw_bson import RawBSONDocument
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DocumentTooLarge, PyMongoError

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger, restored
from services.scoring.core.scores import PeriodScore
from services.scoring.core.summary import LedgerSummary, period_summary
from services.scoring.generations import Generation
from services.scoring.review_store import decision_columns, decisions_of

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
    last_event_time: datetime | None = None  # acceptance time of the newest record applied
    # Stored as one document holding every fact (as a rescore writes it): the first write of live
    # scoring then writes every month, not only the ones it changed.
    whole: bool = False


@dataclass(frozen=True)
class ScoredLedger:
    """A ledger with every period score derived from it."""

    key: LedgerKey
    stored: StoredLedger
    scores: dict[str, PeriodScore]
    rulebook_version: str

    @cached_property
    def summary(self) -> LedgerSummary:
        """What readers need of a ledger (the score feed carries it): every period's scores with
        their breakdown, without the facts."""
        key = self.key
        return LedgerSummary(
            id=key.id,
            branch_id=key.branch_id,
            stream=key.stream,
            year=key.year,
            offset=self.stored.offset,
            rulebook_version=self.rulebook_version,
            last_event_time=self.stored.last_event_time,
            scores={p: period_summary(s) for p, s in sorted(self.scores.items())},
        )


class StoreUnavailable(RuntimeError):
    """The database did not answer or failed for its own reasons: wait and try again."""


class LedgerRefused(ValueError):
    """The database refuses this ledger document for what it holds (size, a value it cannot
    store): retrying cannot help; the records that made it so are at fault."""


class Fenced(RuntimeError):
    """Another worker owns these partitions now (a newer epoch): this one must not write them."""

    def __init__(self, partitions: set[tuple[str, int]]):
        super().__init__(f"partitions owned by another worker now: {sorted(partitions)}")
        self.partitions = partitions


Fence = dict[tuple[str, int], int]  # partition -> the epoch under which the writer owns it


class ScoreStore(Protocol):
    async def load(self, key: LedgerKey) -> StoredLedger | None: ...

    async def claim(self, partitions: list[tuple[str, int]]) -> Fence: ...

    async def save(self, docs: list[RawBSONDocument], fence: Fence | None = None) -> None: ...


def _encoded(key: LedgerKey, doc: dict[str, Any], max_bytes: int) -> RawBSONDocument:
    """One document, encoded once (the size check and the write share it); LedgerRefused when it
    would exceed `max_bytes` or holds what BSON cannot carry."""
    try:
        raw = bson.encode(doc)
    except (BSONError, OverflowError, ValueError) as err:
        raise LedgerRefused(f"ledger {key.id} cannot be stored: {type(err).__name__}: {err}") from err
    if len(raw) > max_bytes:
        raise LedgerRefused(f"ledger {key.id} would be {len(raw)} bytes, over {max_bytes}")
    return RawBSONDocument(raw)


def encode_ledger(scored: ScoredLedger, max_bytes: int) -> RawBSONDocument:
    """The ledger as one document holding every fact: what a rescore writes, once per ledger."""
    doc = _head(scored)
    doc["facts"] = _columns(scored.stored.ledger.stored_facts(), scored.stored.ledger.review)
    return _encoded(scored.key, doc, max_bytes)


def encode_months(
    scored: ScoredLedger, months: Collection[str] | None, max_bytes: int
) -> tuple[list[RawBSONDocument], RawBSONDocument]:
    """The ledger as live scoring writes it: the documents of the given months ("01".."12"; None:
    every month it holds), each holding that month's facts, and its head (offset, points, the
    months it holds). A batch rewrites the months it changed, not the year: FerretDB's cost of
    a write grows with the document. Written months first, heads after: a head never names
    facts that are not stored, and facts stored past the head's offset are folded again."""
    key, by_month = scored.key, defaultdict(list)
    for f in scored.stored.ledger.stored_facts():  # held for review too
        by_month[f.month[5:7]].append(f)
    review = scored.stored.ledger.review
    docs = [
        _encoded(key, {"_id": f"{key.id}|{mm}", "facts": _columns(by_month.get(mm, []), review)}, max_bytes)
        for mm in sorted(by_month if months is None else months)
    ]
    head = _head(scored)
    head["months"] = sorted(by_month)
    return docs, _encoded(key, head, max_bytes)


def _head(scored: ScoredLedger) -> dict[str, Any]:
    """Everything of a ledger but its facts, and each period's points (the breakdown is in the
    feed)."""
    summary = scored.summary
    return {
        "_id": summary.id,
        "branch_id": summary.branch_id,
        "stream": summary.stream,
        "year": summary.year,
        "offset": summary.offset,
        "rulebook_version": summary.rulebook_version,
        "last_event_time": summary.last_event_time,
        "points": {p: score.points for p, score in summary.scores.items()},
        "voided": sorted(scored.stored.ledger.voided),
        **decision_columns(scored.stored.ledger.decisions.values()),  # review (审核), if any
    }


def _columns(facts: Iterable[Fact], review: Collection[str] = ()) -> dict[str, list]:
    # Facts as columns (one array per field): FerretDB stores neither nested arrays nor many
    # small documents cheaply. `review`: the ids among them submitted for review, if any.
    facts = list(facts)
    columns = {name: [getattr(f, name) for f in facts] for name in FACT_FIELDS}
    if review and (submitted := [f.event_id for f in facts if f.event_id in review]):
        columns["review"] = submitted
    return columns


def _facts(columns: dict[str, list]) -> dict[str, Fact]:
    n = len(columns["event_id"])
    # A column added since the document was written takes its field's default.
    values = (columns.get(f.name, [f.default] * n) for f in fields(Fact))
    return {f.event_id: f for f in map(Fact, *values)}


class MongoScoreStore:
    """A head document per ledger (its offset and every period's points) and a document per month
    of its facts; or one document holding both, as a rescore writes it.

    Absolute values, never increments: a document says what the ledger held at its offset. The
    offset is the version guard, checked by the one writer (the Scorer) against the stored ledger
    before it applies anything, so replays after a crash or a rebalance change nothing. Faust
    finishes a partition's batch in hand before giving the partition away, so no stale writer
    follows the new owner."""

    def __init__(self, db: AsyncDatabase, generation: Generation):
        self._ledgers = db[generation.ledgers]
        self._progress = db[generation.progress]
        # One write at a time per process: the server serialises them anyway (SQLite under FerretDB).
        self._writing = asyncio.Lock()

    async def _load(self, key: LedgerKey) -> StoredLedger | None:
        # Filters on `_id` alone: FerretDB serves only those from an index.
        doc = await self._ledgers.find_one({"_id": key.id}, {"points": 0})
        if doc is None:
            return None
        whole = "facts" in doc
        review: set[str] = set()  # the ids submitted for review (none in a ledger stored before)
        if whole:
            facts = _facts(doc["facts"])
            review.update(doc["facts"].get("review", ()))
        else:  # the months its head names, fetched side by side
            ids = [f"{key.id}|{mm}" for mm in doc["months"]]
            parts = await asyncio.gather(*(self._ledgers.find_one({"_id": i}) for i in ids))
            facts = {}
            for part in parts:
                if part is None:  # written before its head: only a damaged store lacks one
                    raise StoreUnavailable(f"{key.id}: a month its head names is missing")
                facts.update(_facts(part["facts"]))
                review.update(part["facts"].get("review", ()))
        decisions = decisions_of(doc.get("decisions"))
        ledger = restored(list(facts.values()), set(doc["voided"]), decisions, review)
        return StoredLedger(ledger, doc["offset"], doc.get("last_event_time"), whole)

    async def load(self, key: LedgerKey) -> StoredLedger | None:
        try:
            return await self._load(key)
        except PyMongoError as err:
            raise StoreUnavailable(f"loading {key.id}: {type(err).__name__}") from err

    async def claim(self, partitions: list[tuple[str, int]]) -> Fence:
        """A new epoch for each partition just assigned to this writer (its one owner: the
        consumer group assigns a partition to one member at a time)."""
        fence: Fence = {}
        try:
            for topic, partition in partitions:
                key = f"{topic}|{partition}"
                doc = await self._progress.find_one({"_id": key})
                fence[(topic, partition)] = epoch = (doc["epoch"] if doc else 0) + 1
                await self._progress.replace_one({"_id": key}, {"epoch": epoch}, upsert=True)
        except PyMongoError as err:
            raise StoreUnavailable(f"claiming partitions: {type(err).__name__}") from err
        return fence

    async def _check(self, fence: Fence) -> None:
        """Raise Fenced for the partitions whose stored epoch moved past the writer's."""
        ids = {f"{t}|{p}": (t, p) for t, p in fence}
        try:
            # $in scans under FerretDB: fine for a collection of one document per partition.
            stored = {d["_id"]: d["epoch"] async for d in self._progress.find({"_id": {"$in": list(ids)}})}
        except PyMongoError as err:
            raise StoreUnavailable(f"reading epochs: {type(err).__name__}") from err
        lost = {tp for key, tp in ids.items() if stored.get(key, 0) > fence[tp]}
        if lost:
            raise Fenced(lost)

    async def save(self, docs: list[RawBSONDocument], fence: Fence | None = None) -> None:
        """Replace the ledgers' documents, a chunk per bulk command, after checking that the
        writer still owns their partitions."""
        if fence:
            await self._check(fence)
        async with self._writing:
            for start in range(0, len(docs), WRITE_CHUNK):
                chunk = docs[start : start + WRITE_CHUNK]
                await _translated(
                    self._ledgers.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in chunk])
                )

    async def insert_new(self, docs: list[RawBSONDocument]) -> None:
        """Write documents that cannot exist yet (a rescore's fresh generation): plain inserts."""
        for start in range(0, len(docs), WRITE_CHUNK):
            await _translated(
                self._ledgers.bulk_write([InsertOne(d) for d in docs[start : start + WRITE_CHUNK]])
            )


async def _translated(write: Any) -> None:
    """The port's errors instead of the driver's: a refused document is the data's fault, the
    rest is the database's."""
    try:
        await write
    except BulkWriteError as err:
        if err.details.get("writeConcernErrors") or not err.details.get("writeErrors"):
            raise StoreUnavailable(f"write not acknowledged: {err}") from err
        first = err.details["writeErrors"][0]
        raise LedgerRefused(f"the database refused a ledger: {first.get('errmsg', '')[:200]}") from err
    except (DocumentTooLarge, BSONError, OverflowError) as err:
        raise LedgerRefused(f"{type(err).__name__}: {err}") from err
    except PyMongoError as err:
        raise StoreUnavailable(f"{type(err).__name__}: {err}") from err
