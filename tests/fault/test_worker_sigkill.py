"""SIGKILL the scoring worker in the middle of a stream, restart it, and the totals equal a
recompute from the Kafka log exactly: nothing lost, nothing counted twice."""

import asyncio
import os
import signal
from datetime import datetime, timedelta, timezone

import httpx
from pymongo import AsyncMongoClient

from tests.conftest import new_id, poll
from tests.support import (
    deployment,
    metric,
    post_batch,
    recompute,
    scored,
    start_group_at_end,
    start_worker,
    workers,
)

CST = timezone(timedelta(hours=8))
BATCHES, PER_BATCH = 30, 100


async def owned(port: int) -> float:
    return await asyncio.to_thread(metric, port, "scoring_assigned_partitions") or 0.0


async def test_sigkill_mid_stream_then_restart_equals_recompute(tokens):
    group, live_db, check_db = new_id("fault"), new_id("fault_live"), new_id("fault_check")
    live_db, check_db = live_db.replace("-", "_"), check_db.replace("-", "_")
    branches = [new_id("b") for _ in range(30)]
    start = datetime(2024, 9, 1, 8, tzinfo=CST)
    records = [
        deployment(branches[i % 30], start + timedelta(minutes=i), hours=1 + i % 5)
        for i in range(BATCHES * PER_BATCH)
    ]
    expected = {b: sum(1 for r in records if r["branch_id"] == b) for b in branches}
    mongo = AsyncMongoClient("mongodb://127.0.0.1:27017/", tz_aware=True)
    try:
        await start_group_at_end(group)
        with workers(group, live_db, [8021]) as procs:
            assert await poll(lambda: owned(8021), lambda n: n > 0, deadline_s=90) > 0
            async with httpx.AsyncClient(timeout=30) as client:
                for n in range(BATCHES):
                    assert (
                        len(
                            await post_batch(
                                client,
                                "volunteer",
                                tokens["writer"],
                                records[n * PER_BATCH : (n + 1) * PER_BATCH],
                            )
                        )
                        == PER_BATCH
                    )
                    if n == BATCHES // 3:
                        os.killpg(procs[8021].pid, signal.SIGKILL)  # no commit, no goodbye
                        procs[8021].wait()
                        procs[8022] = start_worker(group, live_db, 8022)

            async def counts():
                docs = await scored(live_db, branches)
                return {
                    b: docs.get((b, "volunteer", "2024"), {})
                    .get("kinds", {})
                    .get("tianping_volunteer_team", {})
                    .get("count")
                    for b in branches
                }

            final = await poll(counts, lambda c: c == expected, deadline_s=180)
            assert final == expected

        await recompute(check_db)
        live, check = await scored(live_db, branches), await scored(check_db, branches, generation=2)
        assert live == check
        assert len(live) == 30 * 3  # the year, the quarter and the month of every branch
    finally:
        await mongo.drop_database(live_db)
        await mongo.drop_database(check_db)
        await mongo.close()
