"""One record's failure is its own: the scorer dead-letters exactly the records at fault (whatever
they raise, at whichever stage) and applies the rest of their batch; outages are retried whole."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from bson.raw_bson import RawBSONDocument

from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
from services.scoring.delivery import Delivery
from services.scoring.fault_injection import FaultInjection
from services.scoring.routing import routed_topics
from services.scoring.rulebooks import load_rulebook
from services.scoring.scorer import Limits, Scorer
from services.scoring.store import Fenced, LedgerKey, LedgerRefused, StoredLedger, StoreUnavailable
from shared.kafka import BrokerUnavailable

NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)
STREAMS = routed_topics("unit")
TOPIC = {s: t for t, s in STREAMS.items()}


class MemoryStore:
    """Ledger documents by id; refuses documents holding a marked id, or fails like an outage."""

    def __init__(self) -> None:
        self.docs: dict[str, RawBSONDocument] = {}
        self.epochs: dict[tuple[str, int], int] = {}
        self.refuse_marker: str | None = None
        self.down = False
        self.on_load = lambda: None

    async def claim(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        for p in partitions:
            self.epochs[p] = self.epochs.get(p, 0) + 1
        return {p: self.epochs[p] for p in partitions}

    async def load(self, key: LedgerKey) -> StoredLedger | None:
        self.on_load()
        if self.down:
            raise StoreUnavailable("down")
        doc = self.docs.get(key.id)
        if doc is None:
            return None
        facts = [Fact(*row) for row in zip(*(self.columns(key.id)[f] for f in Fact.__slots__), strict=True)]
        ledger = Ledger({f.event_id: f for f in facts}, set(doc["voided"]))
        return StoredLedger(ledger, doc["offset"], whole="facts" in doc)

    def columns(self, ledger_id: str) -> dict[str, list]:
        """The fact columns of a ledger: of its one document, or of the months its head names."""
        head = self.docs[ledger_id]
        parts = [head] if "facts" in head else [self.docs[f"{ledger_id}|{mm}"] for mm in head["months"]]
        return {f: [v for p in parts for v in p["facts"][f]] for f in Fact.__slots__}

    def facts(self, ledger_id: str) -> list[str]:
        return self.columns(ledger_id)["event_id"]

    async def save(self, docs: list[RawBSONDocument], fence: dict | None = None) -> None:
        if self.down:
            raise StoreUnavailable("down")
        if lost := {p for p, epoch in (fence or {}).items() if self.epochs.get(p, 0) > epoch}:
            raise Fenced(lost)
        if self.refuse_marker and any(
            self.refuse_marker in str(d.get("facts", {}).get("event_id")) for d in docs
        ):
            raise LedgerRefused("refused")
        for d in docs:
            self.docs[d["_id"]] = d


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Delivery, str]] = []
        self.feed: list[tuple[str, bytes]] = []
        self.lose_next = False  # the broker will not acknowledge the next feed send

    async def send(self, delivery: Delivery, reason: str) -> None:
        self.sent.append((delivery, reason))

    async def publish_encoded(self, records: list[tuple[str, bytes]]) -> None:
        self.feed += records

    async def send_encoded(self, records: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
        self.feed += records
        lost = self.lose_next
        self.lose_next = False

        async def confirm() -> None:
            if lost:
                raise BrokerUnavailable("lost", "unreachable")

        return confirm


def record(
    branch: str, event_id: str, offset: int, at: str = "2024-06-03T09:00:00+08:00", **data
) -> Delivery:
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": "unit",
        "type": "cn.court.partybuilding.liaison.contacted.v1",
        "time": "2024-06-03T10:00:00+08:00",
        "subject": branch,
        "data": {
            "member_id": "m-1",
            "branch_id": branch,
            "kind": "visit",
            "channel": "online",
            "enterprise": {"name": "E", "credit_code": "91350100M000100Y43"},
            "occurred_at": at,
            **data,
        },
    }
    return Delivery(TOPIC["liaison"], 0, offset, branch.encode(), json.dumps(body).encode())


def scorer(store: MemoryStore, out: Recorder, limits: Limits | None = None) -> Scorer:
    return Scorer(
        store,
        out,
        1,
        load_rulebook(),
        out,
        lambda: NOW,
        STREAMS,
        limits or Limits(),
        FaultInjection(enabled=True),
    )


def counted(out: Recorder, branch: str) -> int:
    """Visits of `branch` in 2024 as the last feed record says."""
    last = [v for k, v in out.feed if f"|{branch}|liaison|2024" in k][-1]
    return json.loads(last)["scores"]["2024"]["kinds"]["visit"]["count"]


@pytest.mark.parametrize("stage", ["decode", "fold", "store"])
@pytest.mark.parametrize("error", ["OverflowError", "KeyError", "DocumentTooLarge", "Exception"])
async def test_a_failing_record_is_dead_lettered_and_its_batch_applied(stage, error):
    store, out = MemoryStore(), Recorder()
    bad = f"fault-{error}-{stage}-x1"
    batch = [record(f"b{i}", f"e{i}", i) for i in range(3)]
    batch.insert(1, record("b0", bad, 10))  # shares a ledger with a good record
    batch += [record("b0", "e-after", 11)]
    outcomes = await scorer(store, out).handle_batch(batch)
    assert outcomes == ["applied", "dead_lettered", "applied", "applied", "applied"]
    assert [(d.offset, reason.split(":")[0]) for d, reason in out.sent] == [(10, error)]
    assert counted(out, "b0") == 2 and counted(out, "b1") == 1 and counted(out, "b2") == 1


async def test_year_one_and_future_times_are_refused_with_the_field_named():
    store, out = MemoryStore(), Recorder()
    batch = [
        record("b1", "old", 0, at="0001-01-01T00:00:00+14:00"),
        record("b1", "future", 1, at=(NOW + timedelta(hours=1)).isoformat()),
        record("b1", "fine", 2),
    ]
    assert await scorer(store, out).handle_batch(batch) == ["dead_lettered", "dead_lettered", "applied"]
    assert all("occurred_at" in reason for _, reason in out.sent), out.sent


async def test_a_reused_id_with_other_content_is_a_conflict_and_a_resent_copy_a_duplicate():
    store, out = MemoryStore(), Recorder()
    first = record("b1", "same", 0)
    other = record("b1", "same", 3, kind="judicial_suggestion")
    outcomes = await scorer(store, out).handle_batch([first, record("b1", "same", 2), other])
    assert outcomes == ["applied", "duplicate", "dead_lettered"]
    assert out.sent[0][0].offset == 3 and "conflict" in out.sent[0][1]
    assert counted(out, "b1") == 1


async def test_a_ledger_grown_past_the_feed_limit_refuses_the_record_that_grows_it():
    store, out = MemoryStore(), Recorder()
    first = await scorer(store, out).handle_batch([record("b1", "e0", 0)])
    size = len(out.feed[-1][1])
    limits = Limits(feed_record_bytes=size + 50)  # room for the same ledger, not for a new member
    grow = [
        record("b1", "e1", 1),
        record("b1", "e2", 2, member_id="a-new-member-with-a-long-id"),
        record("b2", "x", 3),
    ]
    outcomes = await scorer(store, out, limits).handle_batch(grow)
    assert first == ["applied"] and outcomes == ["applied", "dead_lettered", "applied"]
    assert "over" in out.sent[0][1] and out.sent[0][0].offset == 2


async def test_a_document_the_database_refuses_is_split_to_the_record_at_fault():
    store, out = MemoryStore(), Recorder()
    store.refuse_marker = "poison"
    batch = [record("b1", "e1", 0), record("b1", "poison-1", 1), record("b2", "e2", 2), record("b1", "e3", 3)]
    s = scorer(store, out)
    assert await s.handle_batch(batch) == ["applied"] * 4  # visible at once: the refusal comes later
    assert counted(out, "b1") == 3
    await s.flush()
    assert [d.offset for d, _ in out.sent] == [1]
    assert counted(out, "b1") == 2  # retracted: published again without the refused record
    assert counted(out, "b2") == 1 and store.docs["b2|liaison|2024"]["offset"] == 2  # taken alone
    assert store.docs["b1|liaison|2024"]["offset"] == 3 and len(store.facts("b1|liaison|2024")) == 2


async def test_an_outage_fails_the_whole_batch_and_the_retry_applies_it_once():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    await s.handle_batch([record("b1", "e1", 0)])
    await s.flush()
    s.forget()  # as after a rebalance: the next batch loads the ledger
    store.down = True
    with pytest.raises(StoreUnavailable):
        await s.handle_batch([record("b1", "e2", 1), record("b1", "e3", 2)])
    store.down = False
    assert await s.handle_batch([record("b1", "e2", 1), record("b1", "e3", 2)]) == ["applied", "applied"]
    assert await s.handle_batch([record("b1", "e3", 2)]) == ["replayed"]  # redelivered after a crash
    assert counted(out, "b1") == 3 and not out.sent


async def test_scores_are_published_before_they_are_stored_and_stored_coalesced():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    for i in range(3):
        await s.handle_batch([record("b1", f"e{i}", i)])
    assert counted(out, "b1") == 3 and not store.docs and s.owes()
    await s.flush()
    doc = store.docs["b1|liaison|2024"]
    assert doc["offset"] == 2 and len(store.facts("b1|liaison|2024")) == 3 and not s.owes()


async def test_a_flush_in_an_outage_keeps_what_is_owed_and_what_is_folded_meanwhile():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    await s.handle_batch([record("b1", "e0", 0), record("b2", "x0", 1)])
    store.down = True
    with pytest.raises(StoreUnavailable):
        await s.flush()
    await s.handle_batch([record("b1", "e1", 2)])
    store.down = False
    await s.flush()
    assert store.docs["b1|liaison|2024"]["offset"] == 2 and store.docs["b2|liaison|2024"]["offset"] == 1
    assert len(store.facts("b1|liaison|2024")) == 2


async def test_a_worker_that_lost_its_partition_writes_nothing_of_it():
    store, out = MemoryStore(), Recorder()
    stale, new_owner = scorer(store, out), scorer(store, out)
    await stale.own([(TOPIC["liaison"], 0)])
    await stale.handle_batch([record("b1", "e0", 0)])
    await new_owner.own([(TOPIC["liaison"], 0)])  # the group moved the partition on
    await new_owner.handle_batch([record("b1", "e0", 0), record("b1", "e1", 1)])
    await new_owner.flush()
    with pytest.raises(Fenced):
        await stale.flush()
    assert not stale.owes() and store.docs["b1|liaison|2024"]["offset"] == 1


async def test_a_batch_in_hand_during_a_rebalance_is_left_to_the_next_owner():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    await s.own([(TOPIC["liaison"], 0)])
    store.on_load = s.forget  # the partitions are revoked while the batch loads its ledgers
    era = s.era
    await s.handle_batch([record("b1", "e0", 0)])
    assert s.era != era and not s.owes() and not out.feed  # nothing published, nothing owed


async def test_a_fold_made_under_an_older_epoch_is_fenced_even_if_the_partition_came_back():
    store, out = MemoryStore(), Recorder()
    s, other = scorer(store, out), scorer(store, out)
    await s.own([(TOPIC["liaison"], 0)])
    await s.handle_batch([record("b1", "e0", 0)])
    await other.own([(TOPIC["liaison"], 0)])
    await other.handle_batch([record("b1", "e0", 0), record("b1", "e1", 1)])
    await other.flush()
    await s.own([(TOPIC["liaison"], 0)])  # back again: but the owed fold is from before
    with pytest.raises(Fenced):
        await s.flush()
    assert store.docs["b1|liaison|2024"]["offset"] == 1


async def test_the_cache_is_bounded_but_never_drops_a_ledger_still_owed():
    store, out = MemoryStore(), Recorder()
    s = Scorer(store, out, 1, load_rulebook(), out, lambda: NOW, STREAMS, cache_size=2)
    for i in range(5):
        await s.handle_batch([record(f"b{i}", f"e{i}", i)])
    assert len(s._cache) == 5  # all owed: none may go
    await s.flush()
    await s.handle_batch([record("b9", "e9", 9)])
    assert len(s._cache) == 2 and s._cache  # bounded again once stored


async def test_feed_records_the_broker_lost_are_sent_again_before_anything_is_acknowledged():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    out.lose_next = True
    await s.handle_batch([record("b1", "e0", 0)])
    sent = len(out.feed)
    with pytest.raises(BrokerUnavailable):
        await s.flush()  # the caller acknowledges nothing
    assert out.feed[sent:] == out.feed[:sent]  # each key's latest value again (the member's, the ledger's)
    assert s.owes() and not store.docs
    await s.flush()
    assert not s.owes() and store.docs["b1|liaison|2024"]["offset"] == 0


async def test_a_ledger_over_the_document_limit_is_found_when_written_and_retracted():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out, Limits(document_bytes=800))  # a month of a few facts
    assert await s.handle_batch([record("b1", f"e{i}", i) for i in range(8)]) == ["applied"] * 8
    assert counted(out, "b1") == 8  # visible at once
    await s.flush()
    kept = len(store.facts("b1|liaison|2024"))
    assert 0 < kept < 8 and [d.offset for d, _ in out.sent] == list(range(kept, 8))
    assert counted(out, "b1") == kept and "over" in out.sent[0][1]


async def test_a_small_ledger_is_one_document_and_a_large_one_months_of_which_a_flush_writes_the_changed():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out, Limits(whole_max_facts=2))
    await s.handle_batch([record("b1", "e0", 0, at="2024-03-03T09:00:00+08:00"), record("b1", "e1", 1)])
    await s.flush()
    assert set(store.docs) == {"b1|liaison|2024"} and "facts" in store.docs["b1|liaison|2024"]  # whole
    await s.handle_batch([record("b1", "e2", 2)])  # June, and past the bound: every month, once
    await s.flush()
    assert {"b1|liaison|2024|03", "b1|liaison|2024|06"} <= set(store.docs)
    assert "facts" not in store.docs["b1|liaison|2024"] and len(store.facts("b1|liaison|2024")) == 3
    del store.docs["b1|liaison|2024|03"]
    await s.handle_batch([record("b1", "e3", 3)])  # June again: only June is written now
    await s.flush()
    assert (
        "b1|liaison|2024|03" not in store.docs and len(store.columns("b1|liaison|2024|06")["event_id"]) == 3
    )


async def test_a_ledger_a_rescore_wrote_whole_is_written_out_in_months_when_it_splits():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out, Limits(whole_max_facts=0))
    await s.handle_batch([record("b1", "e0", 0, at="2024-03-03T09:00:00+08:00"), record("b1", "e1", 1)])
    await s.flush()
    head = store.docs["b1|liaison|2024"]
    whole = {k: v for k, v in head.items() if k != "months"} | {"facts": store.columns("b1|liaison|2024")}
    store.docs = {"b1|liaison|2024": whole}  # as a rescore writes it
    s.forget()
    await s.handle_batch([record("b1", "e2", 2)])  # June
    await s.flush()
    assert {"b1|liaison|2024|03", "b1|liaison|2024|06"} <= set(store.docs)  # March too
    assert len(store.facts("b1|liaison|2024")) == 3
