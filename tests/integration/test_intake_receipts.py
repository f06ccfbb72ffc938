"""One contract suite for the receipt stores: the in-memory one the unit tests use must behave like
the MongoDB one (here on the live MongoDB-wire server, in a database of its own)."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from bson.errors import InvalidDocument
from pymongo import AsyncMongoClient

from shared.intake.receipts import MemoryReceiptStore, MongoReceiptStore, Receipt, ReceiptStore
from tests.conftest import MONGO_URL, new_id

AT = datetime(2024, 5, 20, 1, 30, tzinfo=UTC)


async def mongo_store():
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL, tz_aware=True)
    name = new_id("test_receipts").replace("-", "_")
    try:
        yield MongoReceiptStore(client[name]["intake_receipts"], client[name]["intake_published"])
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture(params=["memory", "mongo"])
async def store(request):
    if request.param == "memory":
        yield MemoryReceiptStore()
        return
    async for s in mongo_store():
        yield s


@pytest.fixture
async def mongo():
    async for s in mongo_store():
        yield s


def receipt(key: str, digest: str = "h1") -> Receipt:
    return Receipt(key, digest, "b-1", AT, b'{"type": "t"}')


async def test_a_new_key_is_claimed_and_can_be_read_back(store: ReceiptStore):
    key = new_id("volunteer:e")
    assert await store.claim_many([receipt(key)]) == [None]
    assert await store.get(key) == receipt(key)
    assert await store.get(new_id("volunteer:e")) is None


async def test_a_taken_key_returns_the_stored_receipt_not_the_new_one(store: ReceiptStore):
    taken, fresh = new_id("volunteer:e"), new_id("volunteer:e")
    await store.claim_many([receipt(taken, "first")])
    found = await store.claim_many([receipt(taken, "second"), receipt(fresh)])
    assert found == [receipt(taken, "first"), None]
    assert (await store.get(taken)).content_hash == "first"


async def test_published_is_recorded(store: ReceiptStore):
    key = new_id("volunteer:e")
    await store.claim_many([receipt(key)])
    await store.mark_published([key, new_id("volunteer:unknown")])
    stored = await store.get(key)
    assert stored is not None and stored.published
    assert await store.claim_many([receipt(key)]) == [stored]


async def test_a_key_twice_in_one_claim_keeps_the_first(store: ReceiptStore):
    key = new_id("volunteer:e")
    assert await store.claim_many([receipt(key, "a"), receipt(key, "b")]) == [None, receipt(key, "a")]


async def test_a_key_marked_twice_stays_published(store: ReceiptStore):
    key = new_id("volunteer:e")
    await store.claim_many([receipt(key)])
    await store.mark_published([key])
    await store.mark_published([key])  # a retry republished it
    stored = await store.get(key)
    assert stored is not None and stored.published


async def test_nothing_to_claim_touches_nothing(store: ReceiptStore):
    assert await store.claim_many([]) == []
    await store.mark_published([])


async def test_concurrent_claims_each_key_is_won_exactly_once(store: ReceiptStore):
    # Concurrent requests' inserts travel together (MongoReceiptStore's GroupInsert): each must
    # still learn exactly its own outcome, and one key claimed by many is won by exactly one.
    shared, own = new_id("volunteer:e"), [new_id("volunteer:e") for _ in range(40)]
    results = await asyncio.gather(
        *(store.claim_many([receipt(shared, f"h{i}"), receipt(own[i], f"o{i}")]) for i in range(40))
    )
    winners = [i for i, (first, _) in enumerate(results) if first is None]
    assert len(winners) == 1
    assert all(first == receipt(shared, f"h{winners[0]}") for first, _ in results if first is not None)
    assert [second for _, second in results] == [None] * 40
    assert [(await store.get(k)).content_hash for k in own] == [f"o{i}" for i in range(40)]


# Receipts the database cannot take, each because of what is in it: a time without a UTC
# equivalent (BSON encoding overflows) and an envelope over the wire-message limit.
UNSTORABLE = {
    "year 1 at +14:00": (
        lambda r: replace(r, occurred_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))),
        OverflowError,
    ),
    "a 49 MB envelope": (lambda r: replace(r, envelope=b"x" * 49_000_000), InvalidDocument),
}


@pytest.mark.parametrize("bad", list(UNSTORABLE))
async def test_an_unstorable_receipt_fails_its_own_claim_and_no_other(mongo: ReceiptStore, bad):
    # Concurrent claims go as one insert command; the one that cannot be stored must not hand its
    # error to the rest (it once answered 500 to every request sent at the same moment).
    spoil, error = UNSTORABLE[bad]
    good = [new_id("volunteer:e") for _ in range(20)]
    known = new_id("volunteer:e")
    await mongo.claim_many([receipt(known, "first")])
    spoiled = spoil(receipt(new_id("volunteer:e")))
    results = await asyncio.gather(
        *(mongo.claim_many([receipt(k, f"h-{k}")]) for k in good[:10]),
        mongo.claim_many([receipt(new_id("volunteer:e"), "beside"), spoiled]),
        *(mongo.claim_many([receipt(k, f"h-{k}")]) for k in good[10:]),
        mongo.claim_many([receipt(known, "second")]),
        return_exceptions=True,
    )
    assert isinstance(results[10], error), results[10]
    # Each claim stands: new, or found with its own content when the failed group command had
    # stored it before the error (as after any retry; the intake then publishes it as new).
    claims = zip(good, results[:10] + results[11:21], strict=True)
    assert all(r in ([None], [receipt(k, f"h-{k}")]) for k, r in claims)
    assert results[21] == [receipt(known, "first")]  # a taken key still reads as taken
    assert [(await mongo.get(k)).content_hash for k in good] == [f"h-{k}" for k in good]
    assert await mongo.get(spoiled.key) is None
