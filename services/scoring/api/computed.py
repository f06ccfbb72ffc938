"""Answers computed off the event loop, once per data version, shared by every request.

A ranking, compliance or the advanced candidates of 10,000 branches cost from tens to hundreds
of milliseconds of Python: on the event loop that would stall /healthz, every other request and
every stream meanwhile. Here the work runs in a small thread pool on snapshots taken on the loop;
concurrent requests for one key share one computation; entries are kept least-recently-used.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


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
    and then takes that older value (the next request gets the new one): a slow computation never
    makes readers wait on a value they already had."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        max_entries: int = 256,
        min_age_s: float = 0.1,
        fresh_wait_s: float = 0.05,
    ):
        self._pool, self._max_entries = pool, max_entries
        self._min_age_s, self._fresh_wait_s = min_age_s, fresh_wait_s
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._running: dict[Hashable, tuple[Hashable, asyncio.Future[T]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, version: Hashable, snapshot: Callable[[], Callable[[], T]]) -> T:
        """The value of `key` at `version`. `snapshot` runs on the loop (it must be quick: it copies
        what the computation reads) and returns the computation, which runs in the pool."""
        entry, now = self._entries.get(key), time.monotonic()
        if entry is not None:
            self._entries.move_to_end(key)
            if entry.version == version or now - entry.built_at < self._min_age_s:
                return entry.value
        future = self._start(key, version, snapshot)
        if entry is None:
            return await asyncio.shield(future)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._fresh_wait_s)
        except TimeoutError:
            return entry.value

    def _start(
        self, key: Hashable, version: Hashable, snapshot: Callable[[], Callable[[], T]]
    ) -> "asyncio.Future[T]":
        running = self._running.get(key)
        if running is not None:  # one computation per key at a time; its result is at most one change old
            return running[1]
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, snapshot())
        self._running[key] = (version, future)

        def done(f: "asyncio.Future[T]") -> None:
            del self._running[key]
            if not f.cancelled() and f.exception() is None:
                self._entries[key] = _Entry(version, time.monotonic(), f.result())
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:  # any valid query may be asked
                    self._entries.popitem(last=False)

        future.add_done_callback(done)
        return future
