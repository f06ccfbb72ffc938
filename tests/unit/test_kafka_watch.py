"""The watch over a long-lived reader: a partition behind its end that does not move is reported
after `patience` looks; one that moves, is caught up or paused is not; a broker that does not
answer gives no verdict; and keep_running survives a CancelledError that was not its own."""

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaConnectionError
from prometheus_client import REGISTRY

from shared.kafka_watch import FetchWatch, Stalled, keep_running
from shared.settings import KafkaSettings

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class Consumer:
    """What the watch reads of an aiokafka consumer: assignment, paused, end offsets, positions."""

    def __init__(self, ends: dict, positions: dict):
        self.ends, self.positions = ends, positions
        self.paused_: set[TopicPartition] = set()
        self.down = False

    def assignment(self) -> set:
        return set(self.positions)

    def paused(self) -> set:
        return self.paused_

    async def end_offsets(self, tps: list) -> dict:
        if self.down:
            raise KafkaConnectionError("broker away")
        return {tp: self.ends[tp] for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        if self.positions[tp] is None:
            raise IllegalStateError("not assigned")
        return self.positions[tp]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def looks(watch: FetchWatch, clock: Clock, n: int) -> None:
    for _ in range(n):
        clock.now += 10
        await watch.look()


async def test_a_partition_behind_that_does_not_move_is_stalled_after_patience_looks():
    consumer, clock = Consumer({A: 10, B: 5}, {A: 3, B: 5}), Clock()
    watch = FetchWatch(consumer, KafkaSettings(), every_s=10, patience=2, clock=clock)  # type: ignore[arg-type]
    await looks(watch, clock, 2)  # behind twice at 3: one look unmoved
    with pytest.raises(Stalled, match=r"t\[0\] stayed at 3"):
        await looks(watch, clock, 1)


async def test_moving_caught_up_paused_or_revoked_partitions_are_not_stalled():
    consumer, clock = Consumer({A: 100, B: 5}, {A: 3, B: 5}), Clock()
    watch = FetchWatch(consumer, KafkaSettings(), every_s=10, patience=2, clock=clock)  # type: ignore[arg-type]
    for step in range(6):
        consumer.positions[A] = 3 + step  # moving
        await looks(watch, clock, 1)
    consumer.paused_ = {A}
    consumer.positions[B], consumer.ends[B] = None, 50  # revoked meanwhile
    await looks(watch, clock, 5)


async def test_no_verdict_while_the_broker_does_not_answer_and_no_look_between_times():
    consumer, clock = Consumer({A: 10}, {A: 3}), Clock()
    watch = FetchWatch(consumer, KafkaSettings(), every_s=10, patience=2, clock=clock)  # type: ignore[arg-type]
    await looks(watch, clock, 1)
    consumer.down = True
    await looks(watch, clock, 5)  # no answer, no verdict
    consumer.down = False
    await watch.look()  # not yet time for another look
    await looks(watch, clock, 1)
    with pytest.raises(Stalled):
        await looks(watch, clock, 1)


async def test_keep_running_starts_over_after_a_stray_cancellation_but_not_its_own():
    calls, third = [], asyncio.Event()

    async def once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise asyncio.CancelledError  # a request cancelled under the reader
        if len(calls) == 2:
            raise KafkaConnectionError("away")
        third.set()
        await asyncio.sleep(3600)

    def restarts(reason: str) -> float:
        labels = {"reader": "t", "reason": reason}
        return REGISTRY.get_sample_value("kafka_reader_restarts_total", labels) or 0

    before = {r: restarts(r) for r in ("cancelled", "error", "stalled")}
    task = asyncio.create_task(keep_running("t", once, pause_s=0))
    await asyncio.wait_for(third.wait(), 5)
    assert not task.done() and len(calls) == 3
    assert {r: restarts(r) - before[r] for r in before} == {"cancelled": 1, "error": 1, "stalled": 0}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
