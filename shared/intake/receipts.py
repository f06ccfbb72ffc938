"""Receipts: what each intake service accepted, so a retry is recognised and a conflict refused."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Receipt:
    """One accepted event id: its content hash, the envelope to (re)publish, and whether Kafka has it."""

    key: str  # "<stream>:<event id>"
    content_hash: str
    branch_id: str
    occurred_at: datetime
    envelope: bytes
    published: bool = False


class ReceiptStore(Protocol):
    async def claim_many(self, receipts: list[Receipt]) -> list[Receipt | None]:
        """Store new receipts; for each one return the receipt already stored under its key, or None."""

    async def mark_published(self, keys: list[str]) -> None: ...

    async def get(self, key: str) -> Receipt | None: ...


def _doc(r: Receipt) -> dict:
    return {
        "_id": r.key,
        "hash": r.content_hash,
        "branch_id": r.branch_id,
        "occurred_at": r.occurred_at,
        "envelope": r.envelope,
        "published": r.published,
    }


def _receipt(d: dict) -> Receipt:
    return Receipt(
        d["_id"], d["hash"], d["branch_id"], d["occurred_at"], bytes(d["envelope"]), d["published"]
    )


class MongoReceiptStore:
    """Receipts in one collection keyed by "<stream>:<id>"; the unique _id makes a claim atomic."""

    def __init__(self, collection: AsyncCollection):
        self._c = collection

    async def claim_many(self, receipts: list[Receipt]) -> list[Receipt | None]:
        if not receipts:
            return []
        taken: set[int] = set()
        try:
            await self._c.insert_many([_doc(r) for r in receipts], ordered=False)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors", [])
            if any(e["code"] != DUPLICATE_KEY for e in errors):
                raise
            taken = {e["index"] for e in errors}
        if not taken:
            return [None] * len(receipts)
        keys = [receipts[i].key for i in taken]
        found = {d["_id"]: _receipt(d) async for d in self._c.find({"_id": {"$in": keys}})}
        return [found.get(r.key) if i in taken else None for i, r in enumerate(receipts)]

    async def mark_published(self, keys: list[str]) -> None:
        if keys:
            await self._c.update_many({"_id": {"$in": keys}}, {"$set": {"published": True}})

    async def get(self, key: str) -> Receipt | None:
        doc = await self._c.find_one({"_id": key})
        return _receipt(doc) if doc else None
