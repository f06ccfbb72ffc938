"""Reads the scores the worker wrote, summed across streams, with branch sizes from the registry."""

from dataclasses import dataclass, field
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.rulebook import DIMENSIONS
from services.scoring.generations import MongoGenerations

BRANCHES = "branches"


@dataclass
class BranchPeriod:
    """One branch's raw points in a period, all streams together."""

    branch_id: str
    points: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    active_members: set[str] = field(default_factory=set)
    last_event_time: datetime | None = None
    rulebook_versions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Branch:
    """A registered branch (党支部) of a court."""

    branch_id: str
    name: str
    court: str
    members: int


class MongoReadModel:
    def __init__(self, db: AsyncDatabase):
        self._db = db
        self._generations = MongoGenerations(db)
        self._branches = db[BRANCHES]

    async def _scores(self):  # type: ignore[no-untyped-def]
        # Read the pointer on every query: a rescore's switch is seen by the next request.
        return self._db[(await self._generations.active()).period_scores]

    async def period(self, period: str) -> dict[str, BranchPeriod]:
        rows: dict[str, BranchPeriod] = {}
        projection = {"branch_id": 1, "points": 1, "members": 1, "last_event_time": 1, "rulebook_version": 1}
        async for doc in (await self._scores()).find({"period": period}, projection):
            row = rows.setdefault(doc["branch_id"], BranchPeriod(doc["branch_id"]))
            for d in DIMENSIONS:
                row.points[d] += doc["points"].get(d, 0.0)
            row.active_members.update(doc["members"])
            row.rulebook_versions.add(doc["rulebook_version"])
            t = doc["last_event_time"]
            row.last_event_time = t if row.last_event_time is None else max(t, row.last_event_time)
        return rows

    async def branches(self) -> dict[str, Branch]:
        found = {}
        async for doc in self._branches.find({}):
            found[doc["_id"]] = Branch(doc["_id"], doc["name"], doc["court"], doc["members"])
        return found
