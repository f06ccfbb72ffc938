"""Score generations: each full rescore writes a fresh set of collections; a pointer says which
set is live, and under which rulebook it was scored. Readers follow the pointer; a worker serves
exactly one generation, as its own consumer group, so a generation always has a single writer per
partition."""

import tomllib
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

META = "scoring_meta"
POINTER = "active_generation"


@dataclass(frozen=True)
class Generation:
    number: int
    rulebook_toml: str | None = None  # the rulebook text this generation is scored under

    # "v2": ledgers hold offsets of the worker's repartition topics (routing.py), not of the input
    # topics as before; state of the earlier layout is never mistaken for it after an upgrade.
    @property
    def ledgers(self) -> str:
        return f"ledgers_v2_g{self.number}"

    @property
    def progress(self) -> str:
        """One document per repartition partition: its owner's epoch (fences out a stale owner)."""
        return f"progress_v2_g{self.number}"

    def group(self, app_id: str) -> str:
        """The worker's consumer group: committed offsets belong to the generation they built."""
        return f"{app_id}-v2-g{self.number}"


def _pointer(number: int, rulebook_toml: str) -> dict:
    # The version beside the text is for people reading the database; readers parse the text.
    version = str(tomllib.loads(rulebook_toml).get("version", ""))
    return {"_id": POINTER, "number": number, "rulebook_toml": rulebook_toml, "rulebook_version": version}


class MongoGenerations:
    """The live-generation pointer, one small document switched by a single replace: the number
    and the rulebook text change together, so no reader sees one without the other."""

    def __init__(self, db: AsyncDatabase):
        self._meta = db[META]

    async def active(self) -> Generation:
        """The live generation (1, without a rulebook, while no pointer exists)."""
        doc = await self._meta.find_one({"_id": POINTER})
        return Generation(doc["number"], doc.get("rulebook_toml")) if doc else Generation(1)

    async def ensure_first(self, rulebook_toml: str) -> Generation:
        """Create generation 1 under this rulebook unless a pointer exists; return what is stored."""
        try:
            await self._meta.insert_one(_pointer(1, rulebook_toml))
        except DuplicateKeyError:  # a pointer exists, or another process made it first: it wins
            pass
        return await self.active()

    async def switch(self, to: Generation, rulebook_toml: str) -> None:
        await self._meta.replace_one({"_id": POINTER}, _pointer(to.number, rulebook_toml), upsert=True)
