"""Reads the live generation's scores (through the score view) and the branch registry."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.api.registry_log import RegistryLog
from services.scoring.api.score_view import BranchPeriod, FeedFollower, ScoreView
from services.scoring.core import roster
from services.scoring.core.periods import COURT_TZ
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.summary import PeriodRow
from shared.registry_events import BranchChanged

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


def _of(v: roster.BranchVersion, members: int | None = None) -> Branch:
    return Branch(v.branch_id, v.name, v.court, v.court_name, v.members if members is None else members)


def today_in_court() -> date:
    """Today on the courts' calendar (Asia/Shanghai)."""
    return datetime.now(COURT_TZ).date()


class MongoReadModel:
    """Queries for the API: scores from the feed-fed view (memory), the registry from MongoDB.

    Every ranking joins the whole registry, and FerretDB reads it only by scanning (seconds at
    10,000 branches): so it is kept in memory and re-read in the background every `registry_s`
    seconds (rankings are rebuilt only if it changed); a PUT through this process is seen at
    once, one through another API process within that.

    With the registry topic followed (`follow_registry`), branches that have registry events are
    as those say (effective-dated; the MongoDB document is then only a copy of today's fields for
    the intake services' court checks), and branches registered only in MongoDB (before the topic,
    or loaded straight into the database) are as their document says, for every period."""

    def __init__(
        self,
        db: AsyncDatabase,
        follower: FeedFollower,
        registry_s: float = 30.0,
        today: Callable[[], date] = today_in_court,
    ):
        self.db = db
        self._branches = db[BRANCHES]
        self._follower = follower
        self._registry_s = registry_s
        self._registry: dict[str, Branch] | None = None
        self._registry_read_at = 0.0
        self._registry_version = 0
        self._refreshing: asyncio.Task | None = None
        self._puts: dict[str, tuple[float, Branch]] = {}  # PUTs a running re-read may have missed
        self._by_court: dict[int, tuple[dict[str, Branch], dict[str, list[str]]]] = {}
        self._log: RegistryLog | None = None
        self._waited = False
        self._courts: tuple[dict[str, Branch] | None, dict[str, str]] = (None, {})
        self._today = today
        self._merged: tuple[tuple[int, int, date], dict[str, Branch]] | None = None
        self._made: dict[str, tuple[roster.BranchVersion, Branch]] = {}  # one Branch per version
        self._periods: dict[str, tuple[tuple[int, int], dict[str, Branch]]] = {}

    def follow_registry(self, registry_log: RegistryLog) -> None:
        """Take branches' and members' histories from the registry topic this log follows."""
        self._log = registry_log

    @property
    def registry_log(self) -> RegistryLog | None:
        return self._log

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
        return view.generation, view.versions.get(period, 0), self.registry_version

    @property
    def registry_version(self) -> int:
        """Changes whenever the registry as this process knows it changes (both counters only grow)."""
        return self._registry_version + (self._log.version if self._log else 0)

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
        """The registered branches as of today."""
        if self._registry is None:
            await self._refresh_registry()
        elif time.monotonic() - self._registry_read_at > self._registry_s and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh_registry())
            self._refreshing.add_done_callback(lambda _: setattr(self, "_refreshing", None))
        stored = self._registry or {}
        if self._log is None:
            return stored
        if not self._log.ready.is_set() and not self._waited:  # just started: read the topic first
            try:
                await asyncio.wait_for(self._log.ready.wait(), 10.0)
            except TimeoutError:
                self._waited = True  # the broker is away: answer from what is known, never wait again
        key = (id(stored), self._log.version, self._today())
        if self._merged is None or self._merged[0] != key:
            histories = self._log.registry.branches
            merged = stored if not histories else {**stored}
            for branch_id in histories:
                merged[branch_id] = self._branch_object(
                    roster.branch_at(self._log.registry, branch_id, key[2])
                )
            if self._merged is not None and self._merged[0][:2] == key[:2] and self._merged[1] != merged:
                self._registry_version += 1  # a dated change came into force today
            self._merged = (key, merged)
        return self._merged[1]

    def courts_now(self) -> dict[str, str]:
        """Each registered branch's court as last merged (call `branches()` first to refresh)."""
        merged = self._merged[1] if self._merged else (self._registry or {})
        if self._courts[0] is not merged:
            self._courts = (merged, {b: x.court for b, x in merged.items()})
        return self._courts[1]

    def _branch_object(self, version: roster.BranchVersion | None, members: int | None = None) -> Branch:
        """One Branch per version (and member count): rankings reuse their rows by its identity."""
        assert version is not None
        made = self._made.get(version.branch_id)
        n = version.members if members is None else members
        if made is None or made[0] is not version or made[1].members != n:
            made = self._made[version.branch_id] = (version, _of(version, n))
        return made[1]

    async def registry_for(self, period: str) -> dict[str, Branch]:
        """The registered branches as they were in `period`: their fields as of its last day, and
        their members its roster (falling back to the registered number without one)."""
        current = await self.branches()
        log = self._log
        if log is None:
            return current
        key = (id(current), self.registry_version)
        hit = self._periods.get(period)
        if hit is not None and hit[0] == key:
            return hit[1]
        if not (log.registry.by_branch or _dated(log.registry)):
            self._periods[period] = (key, current)  # no history: every period is today's registry
            return current
        start, end = roster.period_days(period)
        reg, out = log.registry, dict(current)
        for branch_id in reg.branches.keys() | reg.by_branch.keys():
            v = roster.branch_at(reg, branch_id, end)
            base = v or (_version_of(current[branch_id]) if branch_id in current else None)
            if base is None:
                continue  # members of a branch nobody registered: no standing of its own
            n = roster.members_in(reg, branch_id, start, end, base.members)
            if v is None and n == base.members:
                continue
            b = _of(base, n)
            out[branch_id] = current[branch_id] if current.get(branch_id) == b else b
        if len(self._periods) > 64:
            self._periods.clear()
        self._periods[period] = (key, out)
        return out

    async def court_branches(self, court: str, period: str | None = None) -> list[str]:
        """The registered branches of a court (now, or in `period`), indexed once per registry version."""
        registry = await (self.registry_for(period) if period else self.branches())
        found = self._by_court.get(id(registry))
        if found is None or found[0] is not registry:
            index: dict[str, list[str]] = {}
            for b in registry.values():
                index.setdefault(b.court, []).append(b.branch_id)
            if len(self._by_court) > 64:
                self._by_court.clear()
            found = self._by_court[id(registry)] = (registry, index)
        return found[1].get(court, [])

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

    async def branch(self, branch_id: str, period: str | None = None) -> Branch | None:
        """One registered branch, now (or as it was in `period`)."""
        if self._log is not None and (
            branch_id in self._log.registry.branches or (period and branch_id in self._log.registry.by_branch)
        ):
            registry = await (self.registry_for(period) if period else self.branches())
            if branch_id in registry:
                return registry[branch_id]
        doc = await self._branches.find_one({"_id": branch_id})
        return _branch(doc) if doc else None

    async def put_branch(self, branch: Branch, effective: date | None = None) -> None:
        """Register a branch (from `effective` on; None: for every period) on the registry topic,
        then keep today's fields in MongoDB (the intake services' court look-up reads them)."""
        if self._log is not None:
            reg = self._log.registry
            if effective is not None and branch.branch_id not in reg.branches:
                # A branch registered before the topic: its document becomes its history's start.
                doc = await self._branches.find_one({"_id": branch.branch_id})
                if doc:
                    await self._log.write(_changed(_branch(doc), None))
            await self._log.write(_changed(branch, effective))
            await self.branches()
            branch = self._made[branch.branch_id][1]  # today's fields, whatever the date
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


def _changed(branch: Branch, effective: date | None) -> BranchChanged:
    return BranchChanged(
        branch_id=branch.branch_id,
        name=branch.name,
        court=branch.court,
        court_name=branch.court_name,
        members=branch.members,
        effective=effective,
    )


def _version_of(branch: Branch) -> roster.BranchVersion:
    return roster.BranchVersion(
        branch.branch_id, branch.name, branch.court, branch.court_name, branch.members
    )


def _dated(registry: roster.Registry) -> bool:
    return any(len(v) > 1 or v[0].effective is not None for v in registry.branches.values())
