"""One fault scenario's course: steady traffic, the fault, more traffic, then the comparison of the
scoring API with the recompute of everything acknowledged."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from services.scoring.rulebooks import load_rulebook
from tests.fault import expected as exp
from tests.fault.converge import Convergence, ScoringView
from tests.fault.driver import Driver
from tests.fault.pipeline import Scoring, register
from tests.fault.summary import Summary
from tests.fault.workload import Workload

RATE = 25.0  # records a second: well within what one worker scores on 2 shared cores
BEFORE_S, AFTER_S = 6.0, 8.0
Fault = Callable[[Driver], Awaitable[float]]  # injects the fault, returns when it was over


@dataclass
class Outcome:
    driver: Driver
    convergence: Convergence
    expected: exp.Expected


async def run(
    summary: Summary,
    tokens: dict[str, str],
    scoring: Scoring,
    fault: Fault,
    workload: Workload | None = None,
    rate: float = RATE,
    converge_deadline_s: float = 120,
) -> Outcome:
    """Drive, inject, drive on, wait for convergence; fill `summary` whatever happens."""
    workload = workload or Workload.fresh()
    async with httpx.AsyncClient(timeout=15) as client:
        await register(client, scoring.api_url, tokens["admin"], workload)
        driver = Driver(client, tokens["writer"], workload.item, rate)
        try:
            async with driver:
                await asyncio.sleep(BEFORE_S)  # steady traffic before the fault (a schedule, not a wait)
                began = time.monotonic()
                fault_end = await fault(driver)
                summary.fault_seconds = round(fault_end - began, 2)
                await asyncio.sleep(AFTER_S)
                await driver.finish()
            want = exp.recompute(driver.ledger)
            summary.expected = want.counted
            view = ScoringView(client, scoring.api_url, tokens["reader"], workload, load_rulebook())
            result = await view.converge(want, since=fault_end, deadline_s=converge_deadline_s)
        finally:
            book(summary, driver)
        summary.counted = result.counted
        summary.difference = None if result.counted is None else result.counted - want.counted
        summary.converged_after_fault_s = None if result.differences else result.seconds
        if not result.differences:
            summary.converged_after_last_ack_s = round(result.seconds - (driver.last_ack - fault_end), 2)
    return Outcome(driver, result, want)


def book(summary: Summary, driver: Driver) -> None:
    t = driver.tally
    summary.posted = t.posted
    summary.acknowledged = len(driver.ledger.records)
    summary.rejected_503 = t.rejected_503
    summary.connection_errors = t.connection_errors
    summary.duplicates_acknowledged = t.duplicates
    summary.voided = len(driver.ledger.voided)
    summary.other_statuses = {str(k): v for k, v in t.other.items()}


def check(outcome: Outcome) -> None:
    """Every acknowledged record counted exactly once, nothing else counted, nothing else refused."""
    assert not outcome.driver.tally.other, f"unexpected answers: {outcome.driver.tally.other}"
    assert outcome.driver.tally.posted == len(outcome.driver.ledger.records), "records never acknowledged"
    diffs = outcome.convergence.differences
    assert not diffs, f"{len(diffs)} differences from the ledger's recompute, e.g.:\n" + "\n".join(diffs[:15])
    assert outcome.convergence.counted == outcome.expected.counted
