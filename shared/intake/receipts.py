"""Receipts: what each intake service accepted, so a retry is recognised and a conflict refused."""

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ParamSpec, Protocol, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, PyMongoError

DUPLICATE_KEY = 11000
P = ParamSpec("P")
T = TypeVar("T")


def retried_once(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Try once more on AutoReconnect: the first call after the server restarted fails on a stale
    pooled connection (FerretDB has no retryable writes), and the next one reconnects. Every method
    here is safe to repeat: a receipt the first try inserted is found as taken, with our content.
    """

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except AutoReconnect:
            return await method(*args, **kwargs)

    return wrapper


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
    }


def _receipt(d: dict, published: bool) -> Receipt:
    # Receipts written before the `published` collection existed carry the flag themselves.
    flag = published or d.get("published", False)
    return Receipt(d["_id"], d["hash"], d["branch_id"], d["occurred_at"], bytes(d["envelope"]), flag)


class MongoReceiptStore:
    """Receipts keyed by "<stream>:<id>", append-only: the unique _id makes a claim atomic, and
    Kafka's acknowledgement is recorded by inserting the key into a second collection.

    No receipt is ever updated, and every lookup is a plain `_id` equality, one key at a time: the
    local FerretDB (patched, deploy/ferretdb) serves those from its index in a millisecond or two,
    while any other filter, `$in` included, loads and decodes every document of the collection
    (seconds once the demo year's receipts are in). A new record therefore costs two inserts; a
    retry costs two `_id` lookups per record already known. Concurrent requests' inserts go
    together (GroupInsert).
    """

    def __init__(self, receipts: AsyncCollection, published: AsyncCollection):
        self._c, self._published = receipts, published
        self._claims, self._marks = GroupInsert(receipts), GroupInsert(published)

    @retried_once
    async def claim_many(self, receipts: list[Receipt]) -> list[Receipt | None]:
        if not receipts:
            return []
        taken = await self._claims.insert([_doc(r) for r in receipts])
        if not taken:
            return [None] * len(receipts)
        keys = [receipts[i].key for i in sorted(taken)]
        found = await self._found(keys)
        done = await self._published_among(keys)
        return [
            _receipt(found[r.key], r.key in done) if i in taken and r.key in found else None
            for i, r in enumerate(receipts)
        ]

    @retried_once
    async def mark_published(self, keys: list[str]) -> None:
        if keys:  # a key marked before (a retry republished it) is a duplicate: fine
            await self._marks.insert([{"_id": k} for k in keys])

    @retried_once
    async def get(self, key: str) -> Receipt | None:
        doc = await self._c.find_one({"_id": key})
        return _receipt(doc, bool(await self._published_among([key]))) if doc else None

    async def _found(self, keys: list[str]) -> dict[str, dict]:
        return {k: doc for k in keys if (doc := await self._c.find_one({"_id": k})) is not None}

    async def _published_among(self, keys: list[str]) -> set[str]:
        return {k for k in keys if await self._published.find_one({"_id": k}, {"_id": 1}) is not None}


async def _insert_new(collection: AsyncCollection, docs: list[dict]) -> set[int]:
    """Insert what is new; return the indexes of the documents whose _id was already taken."""
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as err:
        errors = err.details.get("writeErrors", [])
        if any(e["code"] != DUPLICATE_KEY for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()


def outage(err: Exception) -> bool:
    """True when the database or the way to it failed, rather than anything in the documents."""
    return isinstance(err, ConnectionFailure) or (isinstance(err, PyMongoError) and err.timeout)


def _settle(future: asyncio.Future[set[int]], result: set[int] | BaseException) -> None:
    if future.done():  # its request was cancelled (the client went away): nobody is waiting
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class GroupInsert:
    """Inserts from concurrent requests into one collection, sent as one command: while one
    insert is in flight the next ones gather, so 64 clients posting single records cost a few
    commands (and SQLite transactions, under FerretDB) instead of 64.

    One request's documents must not fail the others: when the group's command fails for
    anything but an outage (a value BSON cannot encode, a document over the size limit, a write
    error), each request's documents are inserted again on their own and each gets its own outcome.
    """

    def __init__(self, collection: AsyncCollection):
        self._collection = collection
        self._waiting: list[tuple[list[dict], asyncio.Future[set[int]]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def insert(self, docs: list[dict]) -> set[int]:
        """Insert what is new; return the indexes (in `docs`) whose _id was already taken."""
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((docs, future))
        if self._sending is None:  # held here too: the loop keeps only a weak reference to a task
            self._sending = asyncio.create_task(self._send())  # it runs until the queue is empty
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    taken = await _insert_new(self._collection, [d for docs, _ in group for d in docs])
                except Exception as err:
                    if len(group) == 1 or outage(err):  # an outage is everyone's: each retries
                        for _, future in group:
                            _settle(future, err)
                    else:
                        await self._each_alone(group)
                    continue
                start = 0
                for docs, future in group:
                    _settle(future, {i - start for i in taken if start <= i < start + len(docs)})
                    start += len(docs)
        finally:
            self._sending = None

    async def _each_alone(self, group: list[tuple[list[dict], asyncio.Future[set[int]]]]) -> None:
        """Insert each request's documents as a command of its own (a document the failed group
        command did store is found taken, with its own content, like any retry's)."""
        results = await asyncio.gather(
            *(_insert_new(self._collection, docs) for docs, _ in group), return_exceptions=True
        )
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result)


class MemoryReceiptStore:
    """Receipts in a dict: for unit tests and trials; tests/integration/test_intake_receipts.py runs
    one contract suite against this and MongoReceiptStore so the two cannot drift."""

    def __init__(self) -> None:
        self._by_key: dict[str, Receipt] = {}

    async def claim_many(self, receipts: list[Receipt]) -> list[Receipt | None]:
        found: list[Receipt | None] = []
        for r in receipts:
            found.append(self._by_key.get(r.key))
            self._by_key.setdefault(r.key, r)
        return found

    async def mark_published(self, keys: list[str]) -> None:
        for key in keys:
            if key in self._by_key:
                self._by_key[key] = replace(self._by_key[key], published=True)

    async def get(self, key: str) -> Receipt | None:
        return self._by_key.get(key)
