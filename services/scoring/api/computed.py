"""Answers over every branch, computed once per data version, shared by every request, in slices.

A ranking, compliance or the advanced candidates of 10,000 branches cost from tens to hundreds of
milliseconds of Python. Run in one go on the event loop, that would stall /healthz, every other
request and every stream meanwhile; run in a thread, the thread would take the interpreter's lock
from the event loop again and again (on a busy machine each hand-back waits for the scheduler).
So the work is written as a generator that yields every few hundred items and is run on the loop
a slice of at most `SLICE_S` at a time: other requests run between slices. Concurrent requests
for one key share one computation; entries are kept least-recently-used.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")
Steps = Generator[None, None, T]  # yields now and then; returns the value
SLICE_S = 0.004  # the longest a computation holds the event loop at once


def run(steps: "Steps[T]") -> T:
    """All the steps at once (tests, and callers that are not on an event loop)."""
    try:
        while True:
            next(steps)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


_turns: "WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = WeakKeyDictionary()


async def sliced(steps: "Steps[T]", slice_s: float = SLICE_S) -> T:
    """The steps, a slice of at most about `slice_s` at a time. Computations take turns: one
    slice per pass of the event loop among all of them, so five at once delay a request no more
    than one does."""
    loop = asyncio.get_running_loop()
    turn = _turns.setdefault(loop, asyncio.Lock())
    while True:
        async with turn:
            began = loop.time()
            try:
                while loop.time() - began <= slice_s:
                    next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        await asyncio.sleep(0)  # everything else ready on the loop runs before the next slice


@dataclass(frozen=True)
class _Entry(Generic[T]):
    version: Hashable
    built_at: float
    value: T


class Computed(Generic[T]):
    """Values by key, each valid for one version of the data it was computed from.

    A request whose entry is current (or younger than `min_age_s`: data that moves all the time is
    recomputed at most that often) gets it at once. Otherwise it starts the computation (or joins
    the one under way) and waits for it; while an older value exists it waits at most `fresh_wait_s`
    and then takes that older value (the next request gets the new one): a long computation never
    makes readers wait on a value they already had."""

    def __init__(self, max_entries: int = 256, min_age_s: float = 0.1, fresh_wait_s: float = 0.05):
        self._max_entries = max_entries
        self._min_age_s, self._fresh_wait_s = min_age_s, fresh_wait_s
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._running: dict[Hashable, tuple[Hashable, asyncio.Task[T]]] = {}  # key -> (version, task)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(
        self, key: Hashable, version: Hashable, start: Callable[[], "Steps[T]"], fresh: bool = False
    ) -> T:
        """The value of `key` at `version`. `start` runs at once (it takes the snapshots the
        computation reads: quick copies) and returns the computation's steps. `fresh`: the value
        of `version` itself, however long it takes (a caller that acts on what it reads, such as
        the reminder schedule, must not act on an older value and miss what changed)."""
        if fresh:
            return await self._current(key, version, start)
        entry, now = self._entries.get(key), time.monotonic()
        if entry is not None:
            self._entries.move_to_end(key)
            if entry.version == version or now - entry.built_at < self._min_age_s:
                return entry.value
        task = self._start(key, version, start)
        if entry is None:
            return await asyncio.shield(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._fresh_wait_s)
        except TimeoutError:
            return entry.value

    async def _current(self, key: Hashable, version: Hashable, start: Callable[[], "Steps[T]"]) -> T:
        while (running := self._running.get(key)) is not None and running[0] != version:
            await asyncio.wait([running[1]])  # an older computation: let it end (ours starts after)
        entry = self._entries.get(key)
        if entry is not None and entry.version == version:
            self._entries.move_to_end(key)
            return entry.value
        return await asyncio.shield(self._start(key, version, start))

    def _start(self, key: Hashable, version: Hashable, start: Callable[[], "Steps[T]"]) -> "asyncio.Task[T]":
        running = self._running.get(key)
        if running is not None:  # one computation per key at a time; its result is at most one change old
            return running[1]
        task = asyncio.create_task(sliced(start()))
        self._running[key] = (version, task)

        def done(t: "asyncio.Task[T]") -> None:
            del self._running[key]
            if not t.cancelled() and t.exception() is None:
                self._entries[key] = _Entry(version, time.monotonic(), t.result())
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:  # any valid query may be asked
                    self._entries.popitem(last=False)

        task.add_done_callback(done)
        return task
