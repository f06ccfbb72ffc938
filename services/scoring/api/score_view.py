"""The API's view of every score of the live generation, kept current from the score feed.

Each API process reads the compacted feed from its beginning, keeps the newest summary of
every ledger of the live generation, and maintains per period one row per branch (all streams
together). A ranking is then a read of memory, and a score is visible here milliseconds after
the worker wrote it. Many API processes can run: each keeps its own copy of the feed.
"""

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.scoring.api.member_index import MemberIndex
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.standing import BranchPeriod, merge
from services.scoring.core.summary import LedgerSummary, PeriodRow, period_rows
from services.scoring.generations import Generation
from services.scoring.rulebooks import parse_rulebook_text
from services.scoring.score_feed import SCORE_FEED_CONFIG, decode, is_member_record
from shared.contracts import Stream
from shared.kafka import ensure_topics, partitions_of
from shared.kafka_watch import FetchWatch, keep_running
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
STREAMS = [s.value for s in Stream]
YIELD_EVERY_S = 0.005  # the longest the feed follower holds the event loop while applying a batch
FREEZE_AFTER = 10_000  # summaries applied since the view's objects were last kept from collections


__all__ = ["BranchPeriod", "Counts", "FeedFollower", "ScoreView"]


@dataclass(frozen=True, slots=True)
class _Ledger:
    """What the view keeps of a ledger summary: what rankings read, decoded, and the record
    itself (decoded again only for breakdowns and stats), so that memory stays near the size of
    the feed rather than of its decoded documents."""

    offset: int
    last_event_time: datetime | None
    periods: dict[str, tuple[dict[str, float], tuple[str, ...]]]  # period -> (points, members)
    raw: bytes


def _slim(record: LedgerSummary, raw: bytes) -> _Ledger:
    periods = {
        p: (score.points, tuple(sys.intern(m) for m in score.members)) for p, score in record.scores.items()
    }
    return _Ledger(record.offset, record.last_event_time, periods, raw)


Counts = dict[str, dict[str, int]]  # month -> kind -> records


class ScoreView:
    """Ledger summaries of one generation, the per-period branch rows derived from them, and the
    rulebook the generation is scored under (points and weights always come from one view).

    Readers off the event loop work on snapshots (`rows`, `training`, `ledgers`): shallow copies
    taken on the loop, whose values are replaced, never changed in place, when a summary arrives."""

    def __init__(self, generation: int, rulebook: Rulebook | None = None):
        self.generation = generation
        self.rulebook = rulebook
        self._ledgers: dict[str, _Ledger] = {}
        self._periods: dict[str, dict[str, BranchPeriod]] = {}
        self._training: dict[str, dict[str, Counts]] = {}  # year -> branch -> training counts
        self.seen: dict[str, dict[tuple[str, str], datetime | None]] = {}  # branch -> (stream, year) -> last
        self.versions: dict[str, int] = {}  # period -> changes so far: what caches key on
        self.members = MemberIndex()  # the members' records (feed keys g<n>|m|...), beside the ledgers'

    def apply(self, raw: bytes) -> None:
        """Take a ledger's newer summary (an older or equal one, from a replay, changes nothing);
        a member's record goes to the member index."""
        if is_member_record(raw):
            self.members.apply(raw)
            return
        record = decode(raw)
        old = self._ledgers.get(record.id)
        if old is not None and old.offset >= record.offset:
            return
        new = self._ledgers[record.id] = _slim(record, raw)
        branch, stream, year = record.branch_id, record.stream, record.year
        self.seen[branch] = {**self.seen.get(branch, {}), (stream, year): new.last_event_time}
        if stream == "training":  # what compliance reads, kept ready: month -> kind -> records
            self._training.setdefault(year, {})[branch] = {
                p: {k: t.count for k, t in score.kinds.items()}
                for p, score in record.scores.items()
                if len(p) == 7 and p[5] != "Q"  # a month, "2024-05", not a quarter, "2024-Q2"
            }
        for period in set(new.periods) | (set(old.periods) if old else set()):
            self._rebuild(period, branch, year)
            self.versions[period] = self.versions.get(period, 0) + 1

    def _rebuild(self, period: str, branch_id: str, year: str) -> None:
        ledgers = (self._ledgers.get(f"{branch_id}|{stream}|{year}") for stream in STREAMS)
        row = merge(
            branch_id, ((*x.periods[period], x.last_event_time) for x in ledgers if x and period in x.periods)
        )
        rows = self._periods.setdefault(period, {})
        if row is not None:
            rows[branch_id] = row
        else:
            rows.pop(branch_id, None)

    def __len__(self) -> int:
        return len(self._ledgers)

    def period(self, period: str) -> dict[str, BranchPeriod]:
        return self._periods.get(period, {})

    def rows(self, period: str, branches: list[str] | None = None) -> dict[str, BranchPeriod]:
        """A snapshot of a period's rows (of some branches only, if given)."""
        rows = self._periods.get(period, {})
        if branches is None:
            return dict(rows)
        return {b: row for b in branches if (row := rows.get(b)) is not None}

    def training(self, year: str) -> dict[str, Counts]:
        """A snapshot: branch -> month -> kind -> training records of the year."""
        return dict(self._training.get(year, {}))

    def ledgers(self) -> list[_Ledger]:
        """A snapshot of every ledger summary, for period_rows off the loop."""
        return list(self._ledgers.values())

    def period_docs(self, periods: list[str], branch_id: str | None = None) -> list[PeriodRow]:
        """One row per (branch, stream, period) asked for, as the worker derived it."""
        wanted = set(periods)
        if branch_id is None:
            ledgers = [x for x in self._ledgers.values() if wanted & x.periods.keys()]
        else:
            ids = (f"{branch_id}|{s}|{y}" for s in STREAMS for y in {p[:4] for p in periods})
            ledgers = [self._ledgers[i] for i in ids if i in self._ledgers]
        return period_rows((decode(x.raw) for x in ledgers), wanted)


class FeedFollower:
    """Keeps a ScoreView of the live generation current: reads the feed from the beginning, then
    follows it; when a rescore switches the generation, starts over for the new one."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        live_generation: Callable[[], Awaitable[Generation]],
        rulebook: Rulebook,
        check_generation_s: float = 1.0,
    ):
        self._kafka, self._topic = kafka, topic
        self._live_generation = live_generation
        self._check_s = check_generation_s
        self.default_rulebook = rulebook  # for a generation whose pointer carries no rulebook
        self._parsed: tuple[str, Rulebook] | None = None
        self.view = ScoreView(0, rulebook)
        self.caught_up = False  # has read everything the feed held when it (re)started

    async def check(self) -> str | None:
        """Readiness: None once the view holds every score the feed had when it started."""
        return None if self.caught_up else "scores: still reading the score feed"

    async def run(self) -> None:
        """Follow the feed until cancelled, starting over after a broker failure."""
        await keep_running("score feed", self._follow)

    async def _follow(self) -> None:
        await ensure_topics(self._kafka, [self._topic], SCORE_FEED_CONFIG)
        consumer = AIOKafkaConsumer(
            **self._kafka.client_options(),
            enable_auto_commit=False,
            fetch_max_wait_ms=50,  # a change waits at most this long in the broker for company
        )
        await consumer.start()
        try:
            tps = await partitions_of(self._kafka, [self._topic])
            consumer.assign(tps)
            while True:
                generation = await self._live_generation()
                await self._read(consumer, tps, generation)
        finally:
            await consumer.stop()

    def rulebook_of(self, generation: Generation) -> Rulebook:
        """The rulebook a generation was scored under (the file's, if its pointer names none)."""
        if generation.rulebook_toml is None:
            return self.default_rulebook
        if self._parsed is None or self._parsed[0] != generation.rulebook_toml:
            self._parsed = (generation.rulebook_toml, parse_rulebook_text(generation.rulebook_toml))
        return self._parsed[1]

    async def _read(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition], live: Generation) -> None:
        """Build a view of `live` from the beginning; return when the live generation moves."""
        generation = live.number
        view, prefix = ScoreView(generation, self.rulebook_of(live)), f"g{generation}|".encode()
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self._check_s
        caught_up, unfrozen = False, 0
        watch = FetchWatch(consumer, self._kafka, [self._topic])
        while True:
            await watch.look()
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            if not batch and unfrozen >= FREEZE_AFTER:  # quiet after many changes: see gc.freeze below
                gc.freeze()
                unfrozen = 0
            unfrozen += sum(len(records) for records in batch.values())
            held_since = loop.time()
            for records in batch.values():
                for r in records:
                    if r.key is not None and r.key.startswith(prefix) and r.value is not None:
                        view.apply(r.value)
                    if loop.time() - held_since > YIELD_EVERY_S:  # a big batch must not stall requests
                        await asyncio.sleep(0)
                        held_since = loop.time()
            if not caught_up:
                positions = {tp: await consumer.position(tp) for tp in tps}
                caught_up = all(positions[tp] >= ends[tp] for tp in tps)
                if caught_up:  # switch readers over to the complete new view at once
                    self.view, self.caught_up = view, True
                    # The view's objects live long: keep the collector from walking them all (a
                    # full collection over 10,000 branches' ledgers stops every thread for 100 ms+).
                    gc.freeze()
                    log.warning("score view of generation %d: %d ledgers", generation, len(view))
            if loop.time() >= next_check:
                next_check = loop.time() + self._check_s
                if await self._generation_or(live) != live:
                    return

    async def _generation_or(self, current: Generation) -> Generation:
        try:
            return await self._live_generation()
        except Exception:  # MongoDB is away: keep following the generation we know
            return current
