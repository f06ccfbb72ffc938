"""GroupInsert with a scripted collection: one request's unstorable documents fail that request
alone, an outage of the database fails every request of the group (each then retries)."""

import asyncio

import pytest
from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, BulkWriteError, DocumentTooLarge, NetworkTimeout, OperationFailure

from shared.intake.receipts import DUPLICATE_KEY, GroupInsert, outage


class Collection:
    """insert_many that stores by _id, raises `poison[_id]` for a poisoned document (as BSON
    encoding or a size check would, before anything is written) and `down` for every command."""

    def __init__(self, poison: dict[str, Exception] | None = None, down: Exception | None = None):
        self.stored: dict[str, dict] = {}
        self.poison, self.down = poison or {}, down
        self.commands: list[list[str]] = []

    async def insert_many(self, docs: list[dict], ordered: bool) -> None:
        assert not ordered
        self.commands.append([d["_id"] for d in docs])
        await asyncio.sleep(0)  # in flight: later requests gather meanwhile
        if self.down:
            raise self.down
        for d in docs:
            if d["_id"] in self.poison:
                raise self.poison[d["_id"]]
        errors = []
        for i, d in enumerate(docs):
            if d["_id"] in self.stored:
                errors.append({"index": i, "code": DUPLICATE_KEY})
            else:
                self.stored[d["_id"]] = d
        if errors:
            raise BulkWriteError({"writeErrors": errors})


POISONS = [
    OverflowError("date value out of range"),
    InvalidDocument("cannot encode object"),
    DocumentTooLarge("BSON document too large"),
    BulkWriteError({"writeErrors": [{"index": 0, "code": 2, "errmsg": "bad value"}]}),
]


@pytest.mark.parametrize("poison", POISONS, ids=lambda e: type(e).__name__)
async def test_one_requests_unstorable_document_fails_only_that_request(poison):
    collection = Collection(poison={"bad": poison})
    group = GroupInsert(collection)  # type: ignore[arg-type]
    requests = [[{"_id": f"k-{i}"}, {"_id": "shared"}] for i in range(10)]
    requests.insert(5, [{"_id": "bad-neighbour"}, {"_id": "bad"}])
    results = await asyncio.gather(*(group.insert(docs) for docs in requests), return_exceptions=True)
    assert results[5] is poison
    good = results[:5] + results[6:]
    assert good == [set()] + [{1}] * 9  # the first request won "shared"; the others find it taken
    assert sorted(collection.stored) == sorted([f"k-{i}" for i in range(10)] + ["shared"])
    assert len(collection.commands[0]) == 22  # they did go as one command first


@pytest.mark.parametrize(
    "down", [AutoReconnect("gone"), NetworkTimeout("slow")], ids=lambda e: type(e).__name__
)
async def test_an_outage_is_every_requests_and_is_not_retried_one_by_one(down):
    collection = Collection(down=down)
    group = GroupInsert(collection)  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(group.insert([{"_id": f"k-{i}"}]) for i in range(5)), return_exceptions=True
    )
    assert results == [down] * 5
    assert len(collection.commands) == 1


async def test_a_request_that_went_away_does_not_stop_the_others():
    collection = Collection(poison={"bad": OverflowError("date value out of range")})
    group = GroupInsert(collection)  # type: ignore[arg-type]
    gone = asyncio.ensure_future(group.insert([{"_id": "k-gone"}]))
    others = [asyncio.ensure_future(group.insert([{"_id": f"k-{i}"}])) for i in range(3)]
    bad = asyncio.ensure_future(group.insert([{"_id": "bad"}]))
    await asyncio.sleep(0)
    gone.cancel()
    # Bounded waits: a group that lost its task on the cancelled request would leave them hanging.
    assert await asyncio.wait_for(asyncio.gather(*others), 5) == [set()] * 3
    with pytest.raises(OverflowError):
        await asyncio.wait_for(bad, 5)
    assert await asyncio.wait_for(group.insert([{"_id": "k-later"}]), 5) == set()  # it still serves


def test_outages_are_the_connection_and_timeout_failures():
    assert outage(AutoReconnect("x")) and outage(NetworkTimeout("x"))
    assert outage(OperationFailure("operation exceeded time limit", code=50))
    assert not outage(OperationFailure("bad value", code=2))
    assert not any(outage(e) for e in POISONS)
