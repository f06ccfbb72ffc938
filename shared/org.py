"""Which court a branch belongs to, for the organisation checks (shared/auth.py): read from the
branch registry in MongoDB (the scoring API's `branches` collection), one `_id` look-up per
branch (FerretDB serves those from its index), kept a short while."""

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.auth import CourtOf
from shared.problems import Problem

REGISTRY = "branches"  # the collection services/scoring/api/read_model.py keeps the registry in
KNOWN_S = 30.0  # a registered branch's court is trusted this long (a move between courts: up to 30 s)
UNKNOWN_S = 5.0  # an unregistered branch is asked about again after this long (a new registration)
MAX_ENTRIES = 50_000


class MongoCourtOf(CourtOf):
    """A branch's registered court, from MongoDB, cached per branch (KNOWN_S, UNKNOWN_S)."""

    def __init__(self, branches: AsyncCollection, clock: Callable[[], float] = time.monotonic):
        self._branches, self._clock = branches, clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def court_of(self, branch_id: str) -> str | None:
        now = self._clock()
        if (hit := self._cache.get(branch_id)) is not None and hit[0] > now:
            return hit[1]
        try:
            doc = await self._branches.find_one({"_id": branch_id}, {"court": 1})
        except PyMongoError:
            raise Problem(
                503, "Service Unavailable", "the branch registry did not answer", headers={"Retry-After": "2"}
            ) from None
        court = str(doc["court"]) if doc and doc.get("court") else None
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()  # ids are chosen by callers: never let them grow the cache unbounded
        self._cache[branch_id] = (now + (KNOWN_S if court else UNKNOWN_S), court)
        return court


class RegistryCourtOf(CourtOf):
    """A branch's court from an in-memory registry (the scoring API's, which sees its own PUTs at
    once), asking MongoDB (cached) only for ids the registry does not hold yet."""

    def __init__(self, registry: Callable[[], Awaitable[Mapping[str, Any]]], fallback: MongoCourtOf):
        self._registry, self._fallback = registry, fallback

    async def court_of(self, branch_id: str) -> str | None:
        if (branch := (await self._registry()).get(branch_id)) is not None:
            return str(branch.court)
        return await self._fallback.court_of(branch_id)
