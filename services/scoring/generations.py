"""Score generations: each full rescore writes a fresh set of collections; a pointer says which
set is live. Readers follow the pointer; a worker serves exactly one generation, as its own
consumer group, so a generation always has a single writer per partition."""

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

META = "scoring_meta"
POINTER = "active_generation"


@dataclass(frozen=True)
class Generation:
    number: int

    @property
    def ledgers(self) -> str:
        return f"ledgers_g{self.number}"

    def group(self, app_id: str) -> str:
        """The worker's consumer group: committed offsets belong to the generation they built."""
        return f"{app_id}-g{self.number}"


class MongoGenerations:
    """The live-generation pointer, one small document switched by a single replace."""

    def __init__(self, db: AsyncDatabase):
        self._meta = db[META]

    async def active(self) -> Generation:
        doc = await self._meta.find_one({"_id": POINTER})
        return Generation(doc["number"] if doc else 1)

    async def switch(self, to: Generation, rulebook_version: str) -> None:
        await self._meta.replace_one(
            {"_id": POINTER},
            {"_id": POINTER, "number": to.number, "rulebook_version": rulebook_version},
            upsert=True,
        )
