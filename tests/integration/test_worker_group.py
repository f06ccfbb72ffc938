"""Two scoring workers in one consumer group on the live broker: they share the partitions, and
when one stops the other takes over its partitions and every event is still scored exactly once."""

import asyncio
import os
import signal
from datetime import datetime, timedelta, timezone

import httpx
from pymongo import AsyncMongoClient

from tests.conftest import MONGO_URL, new_id, poll
from tests.support import deployment, metric, post_deployments, scored, start_group_at_end, workers

CST = timezone(timedelta(hours=8))
EVENT_PARTITIONS = 18  # 3 topics x 6 partitions


async def counts(db, branches: list[str]) -> dict[str, tuple[int, float]]:
    """(records, hours) scored per branch for 2024, as the workers wrote them."""
    found = {}
    for (branch, _, period), doc in (await scored(db.name, branches)).items():
        if period == "2024":
            tally = doc["kinds"]["tianping_volunteer_team"]
            found[branch] = (tally["count"], tally["hours"])
    return found


async def owned(port: int) -> float:
    return await asyncio.to_thread(metric, port, "scoring_assigned_partitions") or 0.0


async def test_partitions_move_to_the_surviving_worker_and_nothing_counts_twice(tokens):
    group, database = new_id("test-group"), new_id("test_db").replace("-", "_")
    branches = [new_id("b") for _ in range(24)]  # spread over all six partitions
    at = datetime(2024, 7, 1, 10, tzinfo=CST)
    mongo = AsyncMongoClient(MONGO_URL, tz_aware=True)
    db = mongo[database]
    try:
        await start_group_at_end(group)
        with workers(group, database, [8011, 8012]) as procs:

            async def both():
                return await owned(8011), await owned(8012)

            shares = await poll(both, lambda s: sum(s) == EVENT_PARTITIONS and min(s) > 0, deadline_s=90)
            assert sum(shares) == EVENT_PARTITIONS and min(shares) > 0, f"partitions not shared: {shares}"

            async with httpx.AsyncClient(timeout=30) as client:
                first = [deployment(b, at + timedelta(minutes=i)) for b in branches for i in range(3)]
                assert len(await post_deployments(client, tokens["writer"], first)) == len(first)
                scored = await poll(
                    lambda: counts(db, branches),
                    lambda c: c == dict.fromkeys(branches, (3, 6.0)),
                    deadline_s=120,
                )
                assert scored == dict.fromkeys(branches, (3, 6.0))

                os.killpg(procs[8012].pid, signal.SIGTERM)  # a graceful stop: its partitions move
                assert procs[8012].wait(timeout=60) is not None
                survivor = await poll(lambda: owned(8011), lambda n: n == EVENT_PARTITIONS, deadline_s=90)
                assert survivor == EVENT_PARTITIONS

                second = [
                    deployment(b, at + timedelta(hours=1, minutes=i)) for b in branches for i in range(3)
                ]
                assert len(await post_deployments(client, tokens["writer"], second)) == len(second)
                expected = dict.fromkeys(branches, (6, 12.0))
                scored = await poll(lambda: counts(db, branches), lambda c: c == expected, deadline_s=120)
                assert scored == expected
    finally:
        await mongo.drop_database(database)
        await mongo.close()
