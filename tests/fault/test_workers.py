"""Scoring workers die mid-stream (SIGKILL: no commit, no goodbye) while records keep arriving; after
a restart or a rebalance every acknowledged record is counted exactly once."""

import asyncio
import time

import pytest

from tests.fault.driver import Driver
from tests.fault.outage import outage
from tests.fault.pipeline import EVENT_PARTITIONS, STACK_WORKER, all_assigned, stack_scoring
from tests.fault.scenario import check, run
from tests.fault.summary import Summary

# A backlog left by others may have to drain first (see stack_scoring): more than the default 300 s.
pytestmark = pytest.mark.timeout(600)

DOWN_S = 2.0  # records pile up in the log while no worker runs


def stack_worker_owns_all(owned: dict[int, float]) -> bool:
    return owned == {STACK_WORKER: EVENT_PARTITIONS}


async def test_a_worker_sigkill_then_restart(tokens, summary: Summary):
    summary.fault = "SIGKILL the stack's scoring worker mid-stream, restart it (stack.py)"
    async with stack_scoring() as scoring:

        async def fault(driver: Driver) -> float:
            async with outage("scoring-worker") as window:
                await asyncio.sleep(DOWN_S)
            # The group waits for the killed member's session to expire before the restarted
            # worker gets its partitions.
            await scoring.wait_owned(stack_worker_owns_all)
            summary.notes["owns_all_after_restart_s"] = round(time.monotonic() - window.restored, 1)
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault)
    check(outcome)


async def test_b_rebalance_after_sigkill_then_a_third_worker(tokens, summary: Summary):
    summary.fault = "a second worker joins the stack's group, is SIGKILLed (rebalance), a third joins"
    async with stack_scoring() as scoring:
        scoring.start(8052)
        await scoring.wait_owned(all_assigned)

        async def fault(driver: Driver) -> float:
            began = time.monotonic()
            scoring.kill(8052)
            await scoring.wait_owned(stack_worker_owns_all)
            summary.notes["survivor_owns_all_after_s"] = round(time.monotonic() - began, 1)
            scoring.start(8053)
            shares = await scoring.wait_owned(all_assigned)
            summary.notes["shared_with_third_after_s"] = round(time.monotonic() - began, 1)
            summary.notes["shares"] = {str(p): int(n) for p, n in shares.items()}
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault)
    check(outcome)
