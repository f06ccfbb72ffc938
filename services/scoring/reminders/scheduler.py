"""The reminder scheduler: publishes each reminder owed, once, while this process holds the schedule."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from services.scoring.reminders import rules
from services.scoring.reminders.events import envelope
from services.scoring.reminders.kafka_io import ID_HEADER, Leadership, ReminderTopics, published_ids
from services.scoring.reminders.metrics import LEADER, PUBLISHED
from shared.kafka import KafkaPublisher
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
ELECTION_WAIT_S = 10
CHUNK = 500  # reminders per acknowledged write (a first run over a city is thousands)


class ComplianceSource(Protocol):
    """Judged cadence windows of registered branches, as /v1/compliance judges them."""

    async def states(
        self, years: list[str], audience: rules.Audience
    ) -> tuple[list[rules.WindowState], dict[str, str]]: ...
    def version(self, years: list[str]) -> Hashable: ...
    def rule(self) -> rules.ReminderRule: ...


class NotLeader(RuntimeError):
    """Another process holds the schedule (or none does yet)."""


@dataclass(frozen=True)
class RunReport:
    today: date
    published: list[str]
    already: int  # reminders owed today that were published before


class Scheduler:
    def __init__(
        self,
        kafka: KafkaSettings,
        publisher: KafkaPublisher,
        source: ComplianceSource,
        leadership: Leadership,
        clock: Callable[[], datetime],
        audience: Callable[[], Awaitable[rules.Audience]],
        topics: ReminderTopics,
        read_memory: Callable[[KafkaSettings, ReminderTopics], Awaitable[set[str]]] = published_ids,
    ):
        self._topics = topics
        self._kafka, self._publisher, self._source = kafka, publisher, source
        self._leadership, self._clock, self._read_memory = leadership, clock, read_memory
        self._audience = audience
        self._memory: set[str] = set()
        self._memory_term = -1
        self._lock = asyncio.Lock()  # one run at a time: the memory is checked and grown together
        self._last: tuple = ()

    def today(self) -> date:
        """Today in Asia/Shanghai: the courts' day."""
        return rules.court_day(self._clock())

    async def run(self, today: date) -> RunReport:
        """Publish every reminder owed on `today` that is not on the topic yet (NotLeader if this
        process does not hold the schedule)."""
        async with self._lock:
            for _ in range(ELECTION_WAIT_S * 4):  # a process just started may be joining the group
                if self._leadership.held:
                    break
                await asyncio.sleep(0.25)
            else:
                raise NotLeader("another process holds the reminder schedule, or none does yet")
            term = self._leadership.term
            if term != self._memory_term:  # a new term: what earlier holders published, from the topic
                self._memory = await self._read_memory(self._kafka, self._topics)
                self._memory_term = term
            rule = self._source.rule()
            audience = await self._audience()
            states, labels = await self._source.states(rules.years_to_judge(today, rule), audience)
            owed = await asyncio.to_thread(rules.owed, states, today, rule, labels)
            new = [r for r in owed if r.id not in self._memory]
            published = []
            for start in range(0, len(new), CHUNK):  # what a chunk published is remembered at once
                published += await self._publish(new[start : start + CHUNK])
            return RunReport(today, published, len(owed) - len(new))

    async def _publish(self, chunk: list[rules.Reminder]) -> list[str]:
        at = self._clock()
        refused = await self._publisher.publish_each(
            self._topics.reminders,
            [(r.branch_id.encode(), envelope(r, at), [(ID_HEADER, r.id.encode())]) for r in chunk],
        )
        published = []
        for r, too_large in zip(chunk, refused, strict=True):
            if too_large is not None:  # cannot happen at our sizes; never remembered as sent
                log.error("reminder %s not published: %s", r.id, too_large)
                continue
            self._memory.add(r.id)
            PUBLISHED.labels(r.type).inc()
            published.append(r.id)
        return published

    async def loop(self, every_s: float) -> None:
        """Run on each new day (Asia/Shanghai), on each change of the data, and on each new term."""
        while True:
            await asyncio.sleep(every_s)
            LEADER.set(1 if self._leadership.held else 0)
            if not self._leadership.held:
                continue
            today = self.today()
            years = rules.years_to_judge(today, self._source.rule())
            key = (today, self._source.version(years), self._leadership.term, await self._audience())
            if key == self._last:
                continue
            try:
                report = await self.run(today)
                self._last = key
                if report.published:
                    log.info("reminders of %s: published %d", today, len(report.published))
            except NotLeader:
                continue
            except Exception as err:  # the broker or the database away: the next pass tries again
                log.warning("reminder schedule: %s: %s", type(err).__name__, err)
