"""Ledgers with review (审核) in the real MongoDB-wire server: records held for review, the ids
submitted for review and the latest decisions survive a store and a load, whole or in months,
and a ledger stored before review existed (no such fields) still loads, every fact counted."""

from datetime import UTC, datetime, timedelta

import bson
import pytest
from pymongo import AsyncMongoClient

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger, fold
from services.scoring.core.review import Decided, Submitted
from services.scoring.core.scores import score
from services.scoring.generations import Generation
from services.scoring.rulebooks import load_rulebook
from services.scoring.store import (
    LedgerKey,
    MongoScoreStore,
    ScoredLedger,
    StoredLedger,
    encode_ledger,
    encode_months,
)
from tests.conftest import MONGO_URL, new_id

RULEBOOK = load_rulebook()
LIMIT = 15 * 1024 * 1024
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def visit(event_id: str, month: str) -> Fact:
    return Fact(event_id, "visit", "m-1", month, digest=f"d-{event_id}")


def reviewed_ledger() -> Ledger:
    """Counted, pending, approved and declined facts over two months; decisions a microsecond apart."""
    ledger = Ledger()
    items = [
        visit("plain", "2024-03"),
        Submitted(visit("pending", "2024-03")),
        Submitted(visit("approved", "2024-06")),
        Submitted(visit("declined", "2024-06")),
        Decided("approved", "2024-06", "r-1", True, T0),
        Decided("declined", "2024-06", "r-2", True, T0),
        Decided("declined", "2024-06", "r-3", False, T0 + timedelta(microseconds=1)),
    ]
    for item in items:
        fold(ledger, item)
    return ledger


def scored(key: LedgerKey, ledger: Ledger) -> ScoredLedger:
    return ScoredLedger(
        key, StoredLedger(ledger, 9), score(ledger.facts.values(), RULEBOOK), RULEBOOK.version
    )


@pytest.fixture
async def store():
    database = new_id("ledgers").replace("-", "_")
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        yield MongoScoreStore(client[database], Generation(1)), client[database][Generation(1).ledgers]
    finally:
        await client.drop_database(database)
        await client.close()


@pytest.mark.parametrize("form", ["whole", "months"])
async def test_review_state_survives_a_store_and_a_load(store, form):
    ledgers, _ = store
    key, ledger = LedgerKey("b-1", "liaison", "2024"), reviewed_ledger()
    assert set(ledger.facts) == {"plain", "approved"} and set(ledger.held) == {"pending", "declined"}
    if form == "whole":
        await ledgers.save([encode_ledger(scored(key, ledger), LIMIT)])
    else:
        docs, head = encode_months(scored(key, ledger), None, LIMIT)
        await ledgers.save([*docs, head])
    loaded = await ledgers.load(key)
    assert loaded is not None and loaded.ledger == ledger
    # The later decision (by a microsecond) stays the latest once stored: a stale one changes nothing.
    assert fold(loaded.ledger, Decided("declined", "2024-06", "r-2", True, T0)) == "duplicate"


async def test_a_ledger_stored_before_review_loads_with_every_fact_counted(store):
    ledgers, collection = store
    key = LedgerKey("b-old", "liaison", "2024")
    old = {  # as the store wrote a ledger before review existed: no review ids, no decisions
        "_id": key.id, "branch_id": "b-old", "stream": "liaison", "year": "2024", "offset": 4,
        "rulebook_version": RULEBOOK.version, "last_event_time": None, "points": {}, "voided": ["x"],
        "facts": {
            "event_id": ["a", "b"], "kind": ["visit", "visit"], "member_id": ["m-1", "m-2"],
            "month": ["2024-01", "2024-02"], "hours": [0.0, 0.0], "session_id": ["", ""],
            "digest": ["d", "e"],
        },
    }  # fmt: skip
    await collection.insert_one(bson.decode(bson.encode(old)))
    loaded = await ledgers.load(key)
    assert loaded is not None and set(loaded.ledger.facts) == {"a", "b"}
    assert not loaded.ledger.held and not loaded.ledger.decisions and not loaded.ledger.review
    assert loaded.ledger.voided == {"x"} and loaded.offset == 4


async def test_a_ledger_nobody_reviews_is_stored_without_review_fields(store):
    ledgers, collection = store
    key = LedgerKey("b-plain", "liaison", "2024")
    ledger = Ledger({"a": visit("a", "2024-01")})
    await ledgers.save([encode_ledger(scored(key, ledger), LIMIT)])
    doc = await collection.find_one({"_id": key.id})
    assert doc is not None and "decisions" not in doc and "review" not in doc["facts"]
