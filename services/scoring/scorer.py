"""The worker's use case: decode records, fold each into its branch's ledger, write the scores.

A record's own failure (it cannot be decoded, folded, scored or stored because of what it is)
is its own: it goes to the dead-letter topic with the reason, and the rest of its batch is
applied. An outage of the broker or the database is nobody's fault: it propagates, and the
caller retries the whole batch with nothing acknowledged.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Protocol

from bson.raw_bson import RawBSONDocument
from pymongo.errors import DocumentTooLarge

from services.scoring import metrics
from services.scoring.core.ledger import Ledger, Tracked, fold_at
from services.scoring.core.review import Item, item_of_decoded
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import scores_and_members
from services.scoring.delivery import DeadLetters, Delivery, reason_of
from services.scoring.fault_injection import NO_FAULTS, FaultInjection
from services.scoring.member_feed import (
    UNCHANGED,
    member_of,
    member_records,
    member_summaries,
    members_changed,
    members_of,
)
from services.scoring.score_feed import encode, feed_key
from services.scoring.store import (
    Fenced,
    LedgerKey,
    LedgerRefused,
    ScoredLedger,
    ScoreStore,
    StoredLedger,
    encode_ledger,
    encode_months,
)
from shared.contracts import (
    DEFAULT_TIME_WINDOW,
    ContractError,
    Stream,
    TimeWindow,
    check_time_window,
)
from shared.fast_contracts import DecodedEvent, decode_event
from shared.kafka import RecordTooLarge

LOADS_IN_FLIGHT = 16


@dataclass(frozen=True)
class Limits:
    """Sizes nothing the worker writes may exceed (a ledger past them refuses the records that
    would grow it): MongoDB's document limit and the broker's message size, with room to spare."""

    document_bytes: int = 15 * 1024 * 1024
    feed_record_bytes: int = 900_000
    # Up to this many facts a ledger is stored as one document (one write a flush); past it, as a
    # head and a document per month, of which a flush rewrites those its records changed.
    whole_max_facts: int = 256


@dataclass(frozen=True)
class Decoded:
    """A valid record: the ledger it belongs to and what to fold into it."""

    key: LedgerKey
    item: Item
    event: DecodedEvent


def decode(
    d: Delivery, streams: dict[str, Stream], now: datetime, window: TimeWindow = DEFAULT_TIME_WINDOW
) -> Decoded:
    """Validate a record against the contract (by the fast decoder, which decides as the contract
    does), its topic and the time window; raise ContractError with the reason."""
    event = decode_event(d.value)
    if event.event_type.stream is not streams.get(d.topic):
        raise ContractError(f"{event.envelope.type} does not belong on topic {d.topic}")
    check_time_window(event.payload, now, window)
    item = item_of_decoded(event)
    return Decoded(
        LedgerKey(event.envelope.subject, event.event_type.stream.value, item.month[:4]), item, event
    )


class ScoreFeed(Protocol):
    async def send_encoded(self, records: list[tuple[str, bytes]]) -> Callable[[], Awaitable[None]]: ...

    async def publish_encoded(self, records: list[tuple[str, bytes]]) -> None: ...


@dataclass(frozen=True)
class _Record:
    index: int
    delivery: Delivery
    decoded: Decoded


@dataclass
class _Work:
    """What one batch does to one ledger: its records, and the ledger with them folded in."""

    key: LedgerKey
    base: StoredLedger  # as stored before this batch
    records: list[_Record] = field(default_factory=list)
    result: StoredLedger | None = None
    scored: ScoredLedger | None = None  # the ledger to store, when it changed
    feed: tuple[str, bytes] | None = None
    members: dict[str, bytes] = field(default_factory=dict)  # feed records of the members it changed


class Scorer:
    """Applies each record exactly once in effect: the ledger's offset says what it already holds."""

    def __init__(
        self,
        store: ScoreStore,
        feed: ScoreFeed,
        generation: int,
        rulebook: Rulebook,
        dead_letters: DeadLetters,
        clock: Callable[[], datetime],
        streams: dict[str, Stream],
        limits: Limits = Limits(),
        faults: FaultInjection = NO_FAULTS,
        window: TimeWindow = DEFAULT_TIME_WINDOW,
        cache_size: int = 20_000,
    ):
        self._store, self._feed, self._generation = store, feed, generation
        self._rulebook, self._dead_letters, self._clock = rulebook, dead_letters, clock
        self._streams, self._limits, self._faults, self._window = streams, limits, faults, window
        # Ledgers of the partitions this worker owns, as it last wrote them. Valid only while it
        # owns them: forget() on every rebalance.
        self._cache: OrderedDict[LedgerKey, StoredLedger] = OrderedDict()
        self._cache_size = cache_size
        self._unsaved: dict[LedgerKey, _Unsaved] = {}  # folded and published, not stored yet
        # Feed records handed to the producer and not confirmed yet: the latest value per key (to
        # send again if the broker loses them) and the confirmations to wait for before a flush.
        self._unconfirmed: dict[str, bytes] = {}
        self._confirms: list[Callable[[], Awaitable[None]]] = []
        self._epochs: dict[tuple[str, int], int] = {}  # ownership epoch per owned partition
        self.era = 0  # moves on at every forget(): a batch begun before it is not this worker's
        self._claiming = asyncio.Lock()

    def forget(self) -> None:
        """Drop cached ledgers and anything still owed (partitions moved: another worker may write
        them now; what was owed is folded again by whoever owns them, from unacknowledged records)."""
        self._cache.clear()
        self._unsaved.clear()
        self._epochs.clear()
        self._unconfirmed.clear()
        self._confirms.clear()
        self.era += 1

    async def handle_batch(self, deliveries: list[Delivery]) -> list[str]:
        """Apply records in arrival order, each ledger written once however many records it got,
        then publish the touched ledgers' scores. Returns each record's outcome: applied, voided,
        duplicate, replayed or dead_lettered."""
        outcomes = ["dead_lettered"] * len(deliveries)
        rejects: list[tuple[Delivery, BaseException, str]] = []
        now, records, era = self._clock(), [], self.era
        for i, d in enumerate(deliveries):
            try:
                decoded = decode(d, self._streams, now, self._window)
                self._faults.check("decode", [decoded.event.envelope.id])
                records.append(_Record(i, d, decoded))
            except Exception as err:  # anything reading one record raises is that record's fault
                rejects.append((d, err, "decode"))
        # Owned before folded: a fold carries the epoch its flush is fenced by.
        await self.own([(r.delivery.topic, r.delivery.partition) for r in records])
        stored = await self._ledgers({r.decoded.key for r in records})
        works: dict[LedgerKey, _Work] = {}
        for r in records:
            works.setdefault(r.decoded.key, _Work(r.decoded.key, stored[r.decoded.key])).records.append(r)
        for work in works.values():
            self._settle(work, outcomes, rejects)
        # Dead letters first: a crash after the write would otherwise replay these as "replayed"
        # and they would never be listed where operators and rescores look.
        for rejected, why, stage in rejects:
            await self._reject(rejected, why, stage)
        if era == self.era:  # else the partitions moved meanwhile: their next owner folds these
            await self._publish(list(works.values()))
        self._observe(records, outcomes)
        return outcomes

    async def _ledgers(self, keys: set[LedgerKey]) -> dict[LedgerKey, StoredLedger]:
        """The batch's ledgers: from the cache, else loaded (concurrently: a batch of thousands
        of branches would otherwise wait for thousands of round trips one after another)."""
        found = {k: self._cache[k] for k in keys if k in self._cache}
        missing = [k for k in keys if k not in found]
        gate = asyncio.Semaphore(LOADS_IN_FLIGHT)

        async def load(key: LedgerKey) -> StoredLedger:
            async with gate:
                return await self._store.load(key) or StoredLedger(Ledger(), -1, whole=True)

        found.update(zip(missing, await asyncio.gather(*(load(k) for k in missing)), strict=True))
        return found

    def _settle(self, work: _Work, outcomes: list[str], rejects: list) -> None:
        """Fold the work's records and check what they make; when that fails, find the records at
        fault by folding them one at a time."""
        try:
            self._take(work, self._fold(work, work.records), outcomes, rejects)
        except Exception:
            for r in work.records:
                try:
                    self._take(work, self._fold(work, [r]), outcomes, rejects)
                except Exception as err:  # this record alone makes the ledger fail
                    stage = "store" if isinstance(err, LedgerUnstorable | DocumentTooLarge) else "fold"
                    rejects.append((r.delivery, err, stage))

    def _take(
        self, work: _Work, folded: "_Folded", outcomes: list[str] | dict[int, str], rejects: list
    ) -> None:
        work.result = folded.result
        if folded.encoded is not None:
            work.scored, work.feed, members = folded.encoded
            work.members.update(members)
        for index, outcome in folded.outcomes:
            outcomes[index] = outcome
        rejects += folded.rejects

    def _fold(self, work: _Work, records: list[_Record]) -> "_Folded":
        """Fold records into a copy of the work's current ledger and encode the result; raises
        (changing nothing) when a record or the ledger it makes cannot be stored."""
        current = work.result or work.base
        tracked = Tracked(current.ledger.copy(), current.offset, current.last_event_time)
        folded, touched = _Folded(), set[str]()
        for r in records:
            d, item = r.delivery, r.decoded.item
            if d.offset > tracked.offset:
                self._faults.check("fold", [r.decoded.event.envelope.id])
            before = member_of(item, tracked.ledger)  # a void's or a decline's fact is gone after the fold
            outcome = fold_at(tracked, d.offset, item, r.decoded.event.envelope.time)
            if outcome not in UNCHANGED:  # an approval's fact is counted only after it
                touched.update(m for m in (before, member_of(item, tracked.ledger)) if m is not None)
            if outcome == "conflict":
                err = ContractError(f"conflict: id {item.event_id} is already counted with other content")
                folded.rejects.append((d, err, "fold"))
            else:
                folded.outcomes.append((r.index, outcome))
        # Stored as the current one is until a flush writes it (see _documents).
        folded.result = StoredLedger(tracked.ledger, tracked.offset, tracked.last_time, current.whole)
        if tracked.offset != current.offset:
            folded.encoded = self._encoded(work.key, folded.result, touched)
        return folded

    def _encoded(
        self, key: LedgerKey, stored: StoredLedger, members: Collection[str] = ()
    ) -> tuple[ScoredLedger, tuple[str, bytes], list[tuple[str, bytes]]]:
        """The scored ledger, its feed record and those of `members` (their scores in it), checked
        against the feed's limit (the stored document is encoded and checked when it is written:
        _document)."""
        self._faults.check("store", stored.ledger.facts)
        rulebook = self._rulebook
        scores, mine = scores_and_members(stored.ledger.facts.values(), rulebook, members)
        scored = ScoredLedger(key, stored, scores, rulebook.version)
        value = encode(self._generation, scored.summary)
        summaries = member_summaries(key, stored, mine, members, rulebook.version)
        of_members = member_records(self._generation, summaries)
        for what, size in [(f"ledger {key.id}", len(value)), *((k, len(v)) for k, v in of_members)]:
            if size > self._limits.feed_record_bytes:
                limit = self._limits.feed_record_bytes
                raise LedgerUnstorable(f"{what}'s scores would be {size} bytes on the feed, over {limit}")
        return scored, (feed_key(self._generation, key.id), value), of_members

    def _documents(
        self, scored: ScoredLedger, base: StoredLedger, records: list[_Record]
    ) -> tuple[list[RawBSONDocument], RawBSONDocument, bool]:
        """What to write: the month documents (none for a ledger written whole) and the head or
        whole document, and whether it is written split. A ledger stored whole (or new) stays
        whole while it is small; split, it never goes back (its older months would be stale), and
        the first split write writes every month. LedgerRefused when a document is over the
        limit or cannot be encoded."""
        limit = self._limits.document_bytes
        if base.whole and len(scored.stored.ledger.facts) <= self._limits.whole_max_facts:
            return [], encode_ledger(scored, limit), False
        months = None if base.whole else {r.decoded.item.month[5:7] for r in records}
        docs, head = encode_months(scored, months, limit)
        return docs, head, True

    async def _reject(self, d: Delivery, err: BaseException, stage: str) -> None:
        metrics.REJECTED.labels(stage, type(err).__name__).inc()
        metrics.EVENTS.labels("invalid" if stage == "decode" else "rejected", "dead_lettered").inc()
        await self._dead_letters.send(d, reason_of(err))

    async def _publish(self, works: list[_Work]) -> None:
        """Make the batch visible at once (the score feed carries absolute values) and owe its
        ledgers to the store: flush() writes them behind, coalesced."""
        for w in works:
            if w.result is None:
                continue
            if w.scored is not None:
                owed = self._unsaved.get(w.key)
                if owed is None:
                    partition = (w.records[0].delivery.topic, w.records[0].delivery.partition)
                    epoch = self._epochs.get(partition, 0)
                    self._unsaved[w.key] = _Unsaved(partition, epoch, w.base, list(w.records), w.scored)
                else:
                    owed.records += w.records
                    owed.scored = w.scored
            self._remember(w.key, w.result)
        # Replayed-only ledgers are published too: a crash between a flush and the publish must
        # not leave readers behind, and what the worker holds is what they should see.
        # Members first, their ledger last (the ledger's record is the batch's newest on its key).
        feed = [rec for w in works if w.feed is not None for rec in (*w.members.items(), w.feed)]
        for w in works:
            if w.feed is None and w.result is not None:  # which members changed is not known: all
                _, ledger, members = self._encoded(w.key, w.result, members_of(w.result.ledger))
                feed += [*members, ledger]
        if feed:
            # Not waited for here (a broker round trip per batch would pace the worker): flush()
            # confirms them before anything they came from is acknowledged.
            self._confirms.append(await self._feed.send_encoded(feed))
            self._unconfirmed.update(feed)

    def owes(self) -> bool:
        """Whether some folded ledger is not stored yet, or its scores not confirmed on the feed."""
        return bool(self._unsaved or self._unconfirmed)

    async def _confirm_feed(self) -> None:
        """Wait until the broker has every feed record sent so far; if it lost some, send the
        latest value of each unconfirmed key again (absolute values: resending converges) and
        raise, so the caller acknowledges nothing yet."""
        confirms, self._confirms = self._confirms, []
        try:
            for confirm in confirms:
                await confirm()
        except Exception:
            self._confirms.append(await self._feed.send_encoded(list(self._unconfirmed.items())))
            raise
        self._unconfirmed.clear()

    async def own(self, partitions: list[tuple[str, int]]) -> None:
        """Take ownership of partitions assigned since the last forget(): a new epoch each, which
        fences out a previous owner that did not notice it lost them. Idempotent until then: a
        second claim would fence out this worker's own earlier folds."""
        async with self._claiming:
            era = self.era
            new = [p for p in dict.fromkeys(partitions) if p not in self._epochs]
            if new:
                claimed = await self._store.claim(new)
                if era == self.era:  # else revoked meanwhile: these are someone else's now
                    self._epochs.update(claimed)

    async def flush(self) -> None:
        """Write every ledger folded since the last flush (one bulk command per chunk). On an
        outage nothing is lost: what was owed stays owed (merged with what was folded meanwhile)
        and the error propagates. Raises Fenced (and drops what those partitions owed) when
        another worker owns them now."""
        await self._confirm_feed()
        if not self._unsaved:
            return
        owed, self._unsaved = self._unsaved, {}
        fence = {u.partition: u.epoch for u in owed.values()}
        started = time.perf_counter()
        try:
            # Encoded here, once per flush however many batches changed the ledger meanwhile.
            months, heads, refused, split = [], [], {}, []
            for key, u in owed.items():
                try:
                    docs, head, is_split = self._documents(u.scored, u.base, u.records)
                except LedgerRefused:
                    refused[key] = u
                    continue
                months += docs
                heads.append(head)
                if is_split:
                    split.append(key)
            try:
                await self._store.save(months + heads, fence)  # heads last: see encode_months
            except LedgerRefused:
                refused, split = owed, []
            for key in split:  # stored split with every month now: later flushes write changes only
                if key not in refused:
                    owed[key].scored.stored.whole = False
                    if (cached := self._cache.get(key)) is not None:
                        cached.whole = False
            if refused:
                await self._save_each(refused)
        except Fenced as err:
            self._drop(err.partitions)
            raise
        except BaseException:
            for key, u in owed.items():  # still owed; newer folds of the same ledger build on it
                newer = self._unsaved.get(key)
                if newer is None:
                    self._unsaved[key] = u
                else:
                    newer.base, newer.records = u.base, u.records + newer.records
            raise
        metrics.MONGO_WRITE.observe(time.perf_counter() - started)

    def _drop(self, partitions: set[tuple[str, int]]) -> None:
        """Forget what this worker holds of partitions it no longer owns."""
        for key in [k for k, u in self._unsaved.items() if u.partition in partitions]:
            del self._unsaved[key]
        for p in partitions:
            self._epochs.pop(p, None)
        self._cache.clear()

    async def _save_each(self, owed: dict[LedgerKey, "_Unsaved"]) -> None:
        """The database refused a document for what it holds: find the records at fault (folded
        again from the stored ledger, one at a time), dead-letter them and publish the ledger
        without them: readers saw them for at most a flush interval."""
        # A ledger the database takes alone keeps its folded result; a refused one is folded again.
        works = [_Work(key, u.base, u.records, u.scored.stored, u.scored) for key, u in owed.items()]
        await self._write_each(works, {}, {u.partition: u.epoch for u in owed.values()})
        feed = []
        for w, u in zip(works, owed.values(), strict=True):
            self._remember(w.key, w.result or w.base)
            after = (w.result or w.base).ledger
            touched = members_changed((r.decoded.item for r in u.records), u.base.ledger, after)
            _, ledger, members = self._encoded(w.key, w.result or w.base, touched)
            feed += [*members, ledger]
        await self._feed.publish_encoded(feed)

    async def _write_each(
        self, works: list[_Work], outcomes: list[str] | dict[int, str], fence: dict
    ) -> None:
        """Write ledger by ledger, and within a refused ledger record by record, dead-lettering
        the records it refuses."""
        for w in works:
            try:
                if w.scored is not None:
                    docs, head, _ = self._documents(w.scored, w.base, w.records)
                    await self._store.save([*docs, head], fence)
                continue
            except LedgerRefused:
                pass
            w.result, w.scored, w.feed = None, None, None
            for r in w.records:
                rejects: list = []
                try:
                    folded = self._fold(w, [r])
                    if folded.encoded is not None:
                        docs, head, _ = self._documents(folded.encoded[0], w.base, [r])
                        await self._store.save([*docs, head], fence)
                    self._take(w, folded, outcomes, rejects)
                except (LedgerRefused, LedgerUnstorable) as err:
                    rejects.append((r.delivery, err, "store"))
                for rejected, why, stage in rejects:
                    await self._reject(rejected, why, stage)

    def _remember(self, key: LedgerKey, stored: StoredLedger) -> None:
        self._cache[key] = stored
        self._cache.move_to_end(key)
        excess = len(self._cache) - self._cache_size
        if excess > 0:  # the oldest go, but only stored ones: one still owed exists nowhere else
            for old in [k for k in islice(self._cache, excess) if k not in self._unsaved]:
                del self._cache[old]

    def _observe(self, records: list[_Record], outcomes: list[str]) -> None:
        now = self._clock()
        for r in records:
            outcome = outcomes[r.index]
            if outcome == "dead_lettered":
                continue  # counted where it was refused
            envelope = r.decoded.event.envelope
            metrics.EVENTS.labels(envelope.type, outcome).inc()
            if outcome in ("applied", "voided"):
                metrics.END_TO_END.observe(max((now - envelope.time).total_seconds(), 0))


class LedgerUnstorable(ValueError):
    """A ledger that would exceed what the database or the broker can hold."""


@dataclass
class _Unsaved:
    """A ledger folded ahead of the store: as it was stored, the records folded into it since,
    and the document to write."""

    partition: tuple[str, int]
    epoch: int  # under which this worker folded it: a write is fenced by it
    base: StoredLedger
    records: list[_Record]
    scored: ScoredLedger  # encoded when written


@dataclass
class _Folded:
    """The outcome of folding some records into a ledger, kept only if all of it succeeded."""

    result: StoredLedger | None = None
    encoded: tuple[ScoredLedger, tuple[str, bytes], list[tuple[str, bytes]]] | None = None
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    rejects: list[tuple[Delivery, BaseException, str]] = field(default_factory=list)


__all__ = ["Decoded", "Delivery", "Limits", "RecordTooLarge", "Scorer", "decode"]
