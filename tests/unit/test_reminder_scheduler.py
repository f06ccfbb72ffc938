"""The scheduler's use case with fakes: nothing published twice, by one scheduler or its successor,
and nothing at all by a process that does not hold the schedule."""

from datetime import UTC, date, datetime

import pytest

from services.scoring.core.rulebook import ReminderRule
from services.scoring.reminders import scheduler as scheduling
from services.scoring.reminders.kafka_io import ReminderTopics
from services.scoring.reminders.rules import Audience, WindowState
from services.scoring.reminders.scheduler import NotLeader, Scheduler

TODAY = date(2024, 3, 28)
TOPICS = ReminderTopics("partybuilding")
EVERYONE = Audience(frozenset({"c-1"}), frozenset())


class Topic:
    """A fake publisher and the topic it writes: the ids, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def publish_each(self, topic, records):
        self.ids += [dict(headers)["reminder.id"].decode() for _, _, headers in records]
        return [None] * len(records)

    async def read_back(self, _settings, _topics) -> set[str]:
        return set(self.ids)


class Source:
    def __init__(self, states: list[WindowState]):
        self.states_ = states

    async def states(self, years, audience):
        return [s for s in self.states_ if audience.covers(s.branch_id, s.court)], {}

    def version(self, years):
        return 1

    def rule(self) -> ReminderRule:
        return ReminderRule()


class Held:
    def __init__(self, held: bool = True, term: int = 1):
        self.held, self.term = held, term


def scheduler(topic: Topic, source: Source, leadership: Held) -> Scheduler:
    async def audience() -> Audience:
        return EVERYONE

    clock = lambda: datetime(2024, 3, 28, 1, tzinfo=UTC)  # noqa: E731
    return Scheduler(None, topic, source, leadership, clock, audience, TOPICS, topic.read_back)  # type: ignore[arg-type]


def states(branch: str) -> list[WindowState]:
    return [WindowState(branch, branch, "c-1", "lecture_hall", w, 1, 0) for w in ("2024-02", "2024-03")]


async def test_a_second_run_and_a_successor_publish_nothing_twice():
    topic, source = Topic(), Source(states("b-1"))
    first = await scheduler(topic, source, Held()).run(TODAY)
    assert len(first.published) == 3 and first.already == 0  # overdue Feb, due Mar, the week's digest
    assert (await scheduler(topic, source, Held()).run(TODAY)).published == []  # a restarted one
    source.states_ += states("b-2")  # a branch covered since: only its reminders are new
    again = await scheduler(topic, source, Held(term=2)).run(TODAY)
    assert [i.split(":")[1] for i in again.published] == ["b-2"] * 3 and again.already == 3
    assert len(topic.ids) == len(set(topic.ids)) == 6


async def test_a_process_without_the_schedule_publishes_nothing(monkeypatch):
    monkeypatch.setattr(scheduling, "ELECTION_WAIT_S", 0)
    topic = Topic()
    with pytest.raises(NotLeader):
        await scheduler(topic, Source(states("b-1")), Held(held=False)).run(TODAY)
    assert topic.ids == []


async def test_the_day_is_the_courts_day():
    late = Scheduler(
        None, Topic(), Source([]), Held(), lambda: datetime(2024, 3, 31, 16, tzinfo=UTC), None, TOPICS
    )  # type: ignore[arg-type]
    assert late.today() == date(2024, 4, 1)
