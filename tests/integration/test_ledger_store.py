"""The ledger store against the real MongoDB-wire server: live scoring writes a head and the
months it changed; a ledger a rescore wrote as one document reads the same and is split on its
first live write; facts written ahead of their head (a crash between the two) fold again."""

import pytest
from pymongo import AsyncMongoClient

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
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


def scored(
    key: LedgerKey, facts: list[Fact], offset: int, voided: frozenset[str] = frozenset()
) -> ScoredLedger:
    ledger = Ledger({f.event_id: f for f in facts}, set(voided))
    return ScoredLedger(
        key, StoredLedger(ledger, offset), score(ledger.facts.values(), RULEBOOK), RULEBOOK.version
    )


def visit(event_id: str, month: str) -> Fact:
    return Fact(event_id, "visit", "m-1", month, digest=f"d-{event_id}")


@pytest.fixture
async def store():
    database = new_id("ledgers").replace("-", "_")
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        yield MongoScoreStore(client[database], Generation(1)), client[database][Generation(1).ledgers]
    finally:
        await client.drop_database(database)
        await client.close()


async def test_a_batch_rewrites_the_months_it_changed_and_the_head(store):
    ledgers, collection = store
    key = LedgerKey("b-1", "liaison", "2024")
    year = [visit(f"e{m}", f"2024-{m:02d}") for m in range(1, 13)]
    docs, head = encode_months(scored(key, year, 11), None, LIMIT)
    await ledgers.save([*docs, head])
    assert len(docs) == 12 and "facts" not in head

    june = visit("e-june-2", "2024-06")
    docs, head = encode_months(scored(key, [*year, june], 12), {"06"}, LIMIT)
    assert [d["_id"] for d in docs] == [f"{key.id}|06"]  # kilobytes, not the year
    await ledgers.save([*docs, head])

    loaded = await ledgers.load(key)
    assert loaded is not None and loaded.offset == 12 and not loaded.whole
    assert set(loaded.ledger.facts) == {f.event_id for f in [*year, june]}
    assert loaded.ledger.facts["e-june-2"] == june
    stored = await collection.find_one({"_id": key.id})
    assert stored["months"] == [f"{m:02d}" for m in range(1, 13)]


async def test_a_ledger_written_whole_reads_the_same_and_is_marked_so(store):
    ledgers, _ = store
    key = LedgerKey("b-2", "volunteer", "2024")
    facts = [visit("a", "2024-02"), visit("b", "2024-07")]
    await ledgers.insert_new([encode_ledger(scored(key, facts, 5, frozenset({"x"})), LIMIT)])
    loaded = await ledgers.load(key)
    assert loaded is not None and loaded.whole and loaded.offset == 5
    assert loaded.ledger.facts == {f.event_id: f for f in facts} and loaded.ledger.voided == {"x"}


async def test_months_written_ahead_of_their_head_are_read_only_through_a_later_head(store):
    ledgers, _ = store
    key = LedgerKey("b-3", "training", "2024")
    first = [visit("a", "2024-03")]
    docs, head = encode_months(scored(key, first, 0), None, LIMIT)
    await ledgers.save([*docs, head])
    # A crash after the month documents, before the head: the head still says offset 0.
    ahead, _ = encode_months(
        scored(key, [*first, visit("b", "2024-03"), visit("c", "2024-04")], 2), None, LIMIT
    )
    await ledgers.save(ahead)
    loaded = await ledgers.load(key)
    assert loaded is not None and loaded.offset == 0
    # The head names March only: April's facts come back when records 1 and 2 are folded again.
    assert set(loaded.ledger.facts) == {"a", "b"}
