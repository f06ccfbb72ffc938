"""Reads what the worker wrote (in the live generation) and the branch registry."""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.rulebook import DIMENSIONS
from services.scoring.generations import MongoGenerations

BRANCHES = "branches"
MAX_CACHED_PERIODS = 64


@dataclass
class BranchPeriod:
    """One branch's raw points in a period, all streams together."""

    branch_id: str
    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    active_members: set[str] = field(default_factory=set)
    last_event_time: datetime | None = None


@dataclass(frozen=True)
class Branch:
    """A registered branch (党支部) of a court."""

    branch_id: str
    name: str
    court: str
    court_name: str | None
    members: int


def _branch(doc: dict[str, Any]) -> Branch:
    return Branch(doc["_id"], doc["name"], doc["court"], doc.get("court_name"), doc["members"])


class MongoReadModel:
    """Queries for the API. `period()` is what every ranking, board and stream reads: its result
    is shared by all requests of this process for `fresh_s` seconds, then one query at a time
    refreshes it while readers get the previous answer for up to `stale_s` seconds."""

    def __init__(self, db: AsyncDatabase, fresh_s: float = 0.5, stale_s: float = 2.0):
        self._db = db
        self._generations = MongoGenerations(db)
        self._branches = db[BRANCHES]
        self._fresh_s, self._stale_s = fresh_s, stale_s
        self._periods: dict[str, tuple[float, dict[str, BranchPeriod]]] = {}
        self._refreshing: dict[str, asyncio.Task] = {}

    async def scores(self) -> AsyncCollection:
        # The pointer is read on every query: a rescore's switch is seen by the next request.
        return self._db[(await self._generations.active()).period_scores]

    async def period(self, period: str) -> dict[str, BranchPeriod]:
        """Every branch with scores in `period`: at most `fresh_s` old, or at most `stale_s` old
        while one query refreshes it; anything older waits for the refresh."""
        cached = self._periods.get(period)
        age = time.monotonic() - cached[0] if cached else None
        if cached and age is not None and age < self._fresh_s:
            return cached[1]
        task = self._refreshing.get(period)
        if task is None:
            task = asyncio.create_task(self._load_period(period))
            self._refreshing[period] = task
            task.add_done_callback(lambda _: self._refreshing.pop(period, None))
        if cached and age is not None and age < self._stale_s:
            return cached[1]
        return await asyncio.shield(task)

    async def _load_period(self, period: str) -> dict[str, BranchPeriod]:
        started = time.monotonic()
        rows: dict[str, BranchPeriod] = {}
        projection = {"branch_id": 1, "points": 1, "members": 1, "last_event_time": 1}
        async for doc in (await self.scores()).find({"period": period}, projection):
            row = rows.setdefault(doc["branch_id"], BranchPeriod(doc["branch_id"]))
            for d in DIMENSIONS:
                row.points[d] += doc["points"].get(d, 0.0)
            row.active_members.update(doc["members"])
            t = doc["last_event_time"]
            row.last_event_time = t if row.last_event_time is None else max(t, row.last_event_time)
        self._periods[period] = (started, rows)
        if len(self._periods) > MAX_CACHED_PERIODS:  # any valid period may be asked for: bound it
            del self._periods[min(self._periods, key=lambda p: self._periods[p][0])]
        return rows

    async def period_docs(self, periods: list[str], branch_id: str | None = None) -> list[dict[str, Any]]:
        """The per-stream score documents of some periods (all branches, or one)."""
        query: dict[str, Any] = {"period": {"$in": periods}}
        if branch_id is not None:
            query["branch_id"] = branch_id
        return [doc async for doc in (await self.scores()).find(query, {"_id": 0})]

    async def branches(self) -> dict[str, Branch]:
        return {doc["_id"]: _branch(doc) async for doc in self._branches.find({})}

    async def branch(self, branch_id: str) -> Branch | None:
        doc = await self._branches.find_one({"_id": branch_id})
        return _branch(doc) if doc else None

    async def put_branch(self, branch: Branch) -> None:
        doc = {
            "_id": branch.branch_id,
            "name": branch.name,
            "court": branch.court,
            "court_name": branch.court_name,
            "members": branch.members,
        }
        await self._branches.replace_one({"_id": branch.branch_id}, doc, upsert=True)
