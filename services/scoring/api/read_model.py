"""Reads what the worker wrote (in the live generation) and the branch registry."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
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
    def __init__(self, db: AsyncDatabase):
        self._db = db
        self._generations = MongoGenerations(db)
        self._branches = db[BRANCHES]

    async def scores(self) -> AsyncCollection:
        # The pointer is read on every query: a rescore's switch is seen by the next request.
        return self._db[(await self._generations.active()).period_scores]

    async def period(self, period: str) -> dict[str, BranchPeriod]:
        """Every branch with scores in `period`."""
        rows: dict[str, BranchPeriod] = {}
        projection = {"branch_id": 1, "points": 1, "members": 1, "last_event_time": 1}
        async for doc in (await self.scores()).find({"period": period}, projection):
            row = rows.setdefault(doc["branch_id"], BranchPeriod(doc["branch_id"]))
            for d in DIMENSIONS:
                row.points[d] += doc["points"].get(d, 0.0)
            row.active_members.update(doc["members"])
            t = doc["last_event_time"]
            row.last_event_time = t if row.last_event_time is None else max(t, row.last_event_time)
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
