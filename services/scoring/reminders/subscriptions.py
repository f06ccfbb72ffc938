"""Webhook subscriptions (订阅): who is told which reminders of a court or a branch, and where."""

from dataclasses import asdict, dataclass
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.reminders.rules import Audience

COLLECTION = "reminder_subscriptions"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    events: tuple[str, ...]  # reminder.due, reminder.overdue, reminder.digest
    court: str | None  # exactly one of court and branch
    branch: str | None
    format: str  # json | wecom | dingtalk
    secret: str | None

    def covers(self, court: str | None, branch: str, short_type: str) -> bool:
        """Whether a reminder of `branch` (registered in `court`) of this type is for it."""
        if short_type not in self.events:
            return False
        return branch == self.branch if self.branch is not None else court == self.court


class SubscriptionStore(Protocol):
    async def put(self, sub: Subscription) -> None: ...
    async def get(self, sub_id: str) -> Subscription | None: ...
    async def delete(self, sub_id: str) -> bool: ...
    async def all(self) -> list[Subscription]: ...


def _of(doc: dict) -> Subscription:
    return Subscription(
        doc["_id"],
        doc["url"],
        tuple(doc["events"]),
        doc.get("court"),
        doc.get("branch"),
        doc["format"],
        doc.get("secret"),
    )


class MongoSubscriptions:
    """One document per subscription, by `_id`; the deliverer reads them all (a few hundred at most)."""

    def __init__(self, db: AsyncDatabase):
        self._docs = db[COLLECTION]

    async def put(self, sub: Subscription) -> None:
        doc = asdict(sub)
        doc["_id"] = doc.pop("id")
        doc["events"] = list(sub.events)
        await self._docs.replace_one({"_id": sub.id}, doc, upsert=True)

    async def get(self, sub_id: str) -> Subscription | None:
        doc = await self._docs.find_one({"_id": sub_id})
        return _of(doc) if doc else None

    async def delete(self, sub_id: str) -> bool:
        return (await self._docs.delete_one({"_id": sub_id})).deleted_count == 1

    async def all(self) -> list[Subscription]:
        return [_of(doc) async for doc in self._docs.find({})]


async def audience_of(store: SubscriptionStore) -> Audience:
    """The courts and branches the stored subscriptions cover."""
    subs = await store.all()
    return Audience(
        frozenset(s.court for s in subs if s.court is not None),
        frozenset(s.branch for s in subs if s.branch is not None),
    )
