"""The marker {_id: "demo"} in scoring_meta: which dataset versions a system holds, by scale.

Only `_id` lookups and an `_id`-filtered replace: FerretDB answers those at once.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

COLLECTION = "scoring_meta"
MARKER_ID = "demo"


class Marker:
    """Reads and writes the marker document in one database."""

    def __init__(self, mongo_url: str, database: str, timeout_ms: int = 5_000):
        self._client: AsyncMongoClient = AsyncMongoClient(
            mongo_url, serverSelectionTimeoutMS=timeout_ms, socketTimeoutMS=30_000, tz_aware=True
        )
        self._meta = self._client[database][COLLECTION]

    async def __aenter__(self) -> "Marker":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.close()

    async def loaded(self, key: str) -> dict[str, Any] | None:
        """What the marker says about the dataset filed under `key` (e.g. "x1"), or None."""
        doc = await self._meta.find_one({"_id": MARKER_ID})
        return ((doc or {}).get("datasets") or {}).get(key)

    async def record(self, key: str, version: str, summary: dict[str, Any]) -> None:
        """Note that `version` of the dataset `key` is loaded completely."""
        doc = await self._meta.find_one({"_id": MARKER_ID}) or {"_id": MARKER_ID, "datasets": {}}
        doc.setdefault("datasets", {})[key] = {"version": version, "loaded_at": datetime.now(UTC), **summary}
        await self._meta.replace_one({"_id": MARKER_ID}, doc, upsert=True)
