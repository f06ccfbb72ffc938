"""One broker of a three-broker cluster crashes (SIGKILL) under steady load through an intake
service, stays down, then comes back. On a copy of the system of its own (tests/fault/cluster.py),
so the default stack the other tests use keeps its single broker. Every topic the system created
has three replicas and min.insync.replicas=2, so acks=all writes go on with two brokers: intake
answers 503 with Retry-After only while the dead broker's leaderships move (at most 15 s after
the kill), then 202 until the end; every acknowledged record is counted exactly once."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from services.scoring.rulebooks import load_rulebook
from tests.conftest import poll
from tests.fault import cluster
from tests.fault import expected as exp
from tests.fault.converge import ScoringView
from tests.fault.driver import Attempt, Driver
from tests.fault.pipeline import register
from tests.fault.scenario import Outcome, book, check
from tests.fault.summary import Summary
from tests.fault.workload import Item, Workload

# Starting the copy (three brokers, FerretDB, four services) on a busy machine takes a while.
pytestmark = pytest.mark.timeout(600)

RATE = 25.0  # records a second, as in the other scenarios
BEFORE_S, AFTER_S = 6.0, 8.0
LEADERS_MOVE_S = 15.0  # after the kill, the longest intake may answer 503
DOWN_S = 25.0  # the broker stays away this long: two brokers alone carry the load for 10 s
OK = {200, 202}  # a batch answers 200 when every item was accepted
SERVICE = "volunteer"


def items(workload: Workload) -> Callable[[], Item]:
    """The workload's mix (mostly single posts, now and then a batch) for the one intake service."""

    def item() -> Item:
        rng = workload.rng
        if rng.random() < 0.15:
            return Item(
                SERVICE, tuple(workload.record(SERVICE) for _ in range(rng.randint(5, 10))), batch=True
            )
        return Item(SERVICE, (workload.record(SERVICE),))

    return item


def victim(layout: dict[str, cluster.TopicLayout]) -> tuple[str, str]:
    """The worst broker to lose, and why: the active controller (a new one must be elected before
    it can fence the dead broker), else the one leading most partitions of the intake's topic."""
    if controller := cluster.active_controller():
        return controller, "the active controller"
    topic = next(name for name in layout if name.startswith(f"{SERVICE}."))
    led = Counter(layout[topic].leaders)
    node_id = min(led, key=lambda n: (-led[n], n))
    return next(name for name, i in cluster.NODE_IDS.items() if i == node_id), f"leads most of {topic}"


def last_ack(driver: Driver) -> Callable[[], Awaitable[float]]:
    async def probe() -> float:
        return driver.last_ack

    return probe


def after(attempts: list[Attempt], t: float) -> list[Attempt]:
    return [a for a in attempts if a.started >= t]


async def test_i_cluster_broker_sigkill_and_restart(tokens, summary: Summary):
    summary.fault = f"SIGKILL one of three brokers for {DOWN_S:.0f} s under steady load; restart it"
    workload = Workload.fresh()
    with cluster.running() as up_s:
        summary.notes["cluster_copy_up_s"] = up_s
        layout = await cluster.topics()
        broker, why = victim(layout)
        summary.notes["killed"] = f"{broker} ({why})"
        async with httpx.AsyncClient(timeout=30) as client:
            await register(client, cluster.URLS["scoring"], tokens["admin"], workload)
            driver = Driver(client, tokens["writer"], items(workload), RATE, urls=cluster.URLS)
            try:
                async with driver:
                    # The intake's producer starts with its first record: let that be before the clock.
                    await poll(last_ack(driver), bool, deadline_s=60, every_s=0.1)
                    await asyncio.sleep(BEFORE_S)  # steady traffic before the fault (a schedule)
                    killed_at = time.monotonic()  # before the kill: the 15 s are counted strictly
                    await asyncio.to_thread(cluster.stack, "kill", broker)
                    await asyncio.sleep(DOWN_S - (time.monotonic() - killed_at))
                    restart = time.monotonic()
                    await asyncio.to_thread(cluster.stack, "up", broker)
                    summary.notes["broker_ready_after_restart_s"] = round(time.monotonic() - restart, 1)
                    fault_end = time.monotonic()
                    summary.fault_seconds = round(fault_end - killed_at, 2)
                    await asyncio.sleep(AFTER_S)
                    await driver.finish()
                want = exp.recompute(driver.ledger)
                summary.expected = want.counted
                view = ScoringView(
                    client, cluster.URLS["scoring"], tokens["reader"], workload, load_rulebook()
                )
                result = await view.converge(want, since=fault_end, deadline_s=120)
            finally:
                book(summary, driver)
            summary.counted = result.counted
            summary.difference = None if result.counted is None else result.counted - want.counted
            summary.converged_after_fault_s = None if result.differences else result.seconds
            if not result.differences:
                summary.converged_after_last_ack_s = round(result.seconds - (driver.last_ack - fault_end), 2)
        # Every topic there is by now: the system's own, faust's leader topic, Kafka's offsets.
        replication = {n: (sorted(t.replicas), t.min_insync) for n, t in (await cluster.topics()).items()}
        short = {n: r for n, r in replication.items() if r != ([3], "2")}
        summary.notes["topics_with_3_replicas_min_isr_2"] = (
            f"{len(replication) - len(short)}/{len(replication)}"
        )
    assert not short, f"(replicas, min.insync.replicas) of topics short of (3, 2): {short}"
    assert_leaders_moved_in_time(summary, driver.attempts, killed_at, restart)
    check(Outcome(driver, result, want))


def assert_leaders_moved_in_time(
    summary: Summary, attempts: list[Attempt], killed_at: float, restart: float
) -> None:
    """503 (with Retry-After) only for requests sent within LEADERS_MOVE_S of the kill; every
    request sent after that answered 200/202, on two brokers and again on three."""
    since_kill = after(attempts, killed_at)
    refused = [a for a in since_kill if a.status not in OK]
    last_refused = max((a.started for a in refused), default=killed_at)
    ok_again = min((a.ended for a in after(since_kill, last_refused) if a.status in OK), default=None)
    late = [a for a in refused if a.started > killed_at + LEADERS_MOVE_S]
    two_brokers = [a for a in after(since_kill, killed_at + LEADERS_MOVE_S) if a.ended < restart]
    summary.notes |= {
        "refused_before_kill": sum(a.status not in OK for a in attempts if a.started < killed_at),
        "answers_since_kill": dict(Counter(str(a.status) for a in since_kill)),
        "last_refused_sent_after_kill_s": round(last_refused - killed_at, 1),
        "all_ok_again_after_kill_s": None if ok_again is None else round(ok_again - killed_at, 1),
        "answered_on_two_brokers": len(two_brokers),
    }
    wrong = Counter((a.status, a.retry_after) for a in refused if a.status != 503 or not a.retry_after)
    assert not wrong, f"refusals other than 503 with Retry-After (status, Retry-After): {wrong}"
    assert not late, f"{len(late)} requests sent over {LEADERS_MOVE_S:.0f} s after the kill got 503"
    assert len(two_brokers) > 20 and all(a.status in OK for a in two_brokers), "two brokers did not carry it"
