"""Reads the live generation's scores (through the score view) and the branch registry."""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.api.score_view import BranchPeriod, FeedFollower, ScoreView
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.summary import PeriodRow

BRANCHES = "branches"


@dataclass(frozen=True)
class Unregistered:
    """A branch id that has scores but no registration: for admins to register or void."""

    branch_id: str
    years: list[str]
    streams: list[str]
    last_event_time: datetime | None


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
    """Queries for the API: scores from the feed-fed view (memory), the registry from MongoDB.

    Every ranking joins the whole registry, and FerretDB reads it only by scanning (seconds at
    10,000 branches): so it is kept in memory and re-read in the background every `registry_s`
    seconds (rankings are rebuilt only if it changed); a PUT through this process is seen at
    once, one through another API process within that."""

    def __init__(self, db: AsyncDatabase, follower: FeedFollower, registry_s: float = 30.0):
        self._branches = db[BRANCHES]
        self._follower = follower
        self._registry_s = registry_s
        self._registry: dict[str, Branch] | None = None
        self._registry_read_at = 0.0
        self._registry_version = 0
        self._refreshing: asyncio.Task | None = None
        self._puts: dict[str, tuple[float, Branch]] = {}  # PUTs a running re-read may have missed
        self._by_court: tuple[dict[str, Branch] | None, dict[str, list[str]]] = (None, {})

    async def period(self, period: str) -> dict[str, BranchPeriod]:
        """Every branch with scores in `period`, as of the last record of the score feed."""
        return self._follower.view.period(period)

    def view(self) -> ScoreView:
        """The live generation's view: take it once per request, and read points and rulebook from it."""
        return self._follower.view

    def rulebook(self, view: ScoreView) -> Rulebook:
        """The rulebook `view`'s generation is scored under."""
        return view.rulebook or self._follower.default_rulebook

    def version(self, period: str, view: ScoreView | None = None) -> tuple[int, int, int]:
        """Changes when anything a ranking of `period` reads changes: what caches key on."""
        view = view or self._follower.view
        return view.generation, view.versions.get(period, 0), self._registry_version

    @property
    def registry_version(self) -> int:
        """Changes whenever the registry as this process knows it changes."""
        return self._registry_version

    def unregistered(self, registry: dict[str, Branch]) -> list[Unregistered]:
        """Branch ids with scores in the live generation that nobody registered."""
        seen = self._follower.view.seen
        found = []
        for branch_id in sorted(seen.keys() - registry.keys()):
            ledgers = seen[branch_id]
            times = [t for t in ledgers.values() if t is not None]
            found.append(
                Unregistered(
                    branch_id,
                    sorted({year for _, year in ledgers}),
                    sorted({stream for stream, _ in ledgers}),
                    max(times) if times else None,
                )
            )
        return found

    def unregistered_count(self) -> int:
        """How many branch ids have scores and no registration (the registry as last read)."""
        return len(self._follower.view.seen.keys() - (self._registry or {}).keys())

    async def period_docs(self, periods: list[str], branch_id: str | None = None) -> list[PeriodRow]:
        """The per-stream score rows of some periods (all branches, or one)."""
        return self._follower.view.period_docs(periods, branch_id)

    async def branches(self) -> dict[str, Branch]:
        if self._registry is None:
            await self._refresh_registry()
        elif time.monotonic() - self._registry_read_at > self._registry_s and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh_registry())
            self._refreshing.add_done_callback(lambda _: setattr(self, "_refreshing", None))
        return self._registry or {}

    async def court_branches(self, court: str) -> list[str]:
        """The registered branches of a court (indexed once per registry version)."""
        registry = await self.branches()
        if self._by_court[0] is not registry:
            index: dict[str, list[str]] = {}
            for b in registry.values():
                index.setdefault(b.court, []).append(b.branch_id)
            self._by_court = (registry, index)
        return self._by_court[1].get(court, [])

    async def _refresh_registry(self) -> None:
        started = time.monotonic()
        found = {doc["_id"]: _branch(doc) async for doc in self._branches.find({})}
        # A PUT that landed while this read ran may be missing from it: keep what the PUT wrote.
        found |= {b: branch for b, (at, branch) in self._puts.items() if at >= started}
        self._puts = {b: put for b, put in self._puts.items() if put[0] >= started}
        changed = found != self._registry
        self._registry, self._registry_read_at = found, started
        if changed:
            self._registry_version += 1

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
        self._puts[branch.branch_id] = (time.monotonic(), branch)
        if self._registry is not None:
            self._registry = {**self._registry, branch.branch_id: branch}
            self._registry_version += 1
