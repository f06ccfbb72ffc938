"""The broker or the database crashes (SIGKILL) while records are posted and scored: intake refuses
with 503 (never 202) while either is down, senders retry with the same ids, the worker waits, and
once the process is back every acknowledged record is counted exactly once."""

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from shared import dev_issuer
from tests.conftest import URLS, new_id, poll
from tests.fault.driver import Driver
from tests.fault.outage import Window, answers_during, outage, readiness, reports_failure
from tests.fault.pipeline import stack_scoring
from tests.fault.scenario import check, run
from tests.fault.summary import Summary
from tests.fault.workload import SERVICES, Item, Workload
from tests.support import RESOURCES, contact

# A backlog left by others may have to drain first (see stack_scoring): more than the default 300 s.
pytestmark = pytest.mark.timeout(600)

OUTAGE_S = 8.0  # at least this long down, so every sender meets the outage more than once


def publish_failures(text: str, service: str) -> float:
    lines = [
        ln
        for ln in text.splitlines()
        if ln.startswith("intake_publish_failures_total{") and f'service="{service}"' in ln
    ]
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)


async def refused_while_broker_down(
    client: httpx.AsyncClient, writer: str, service: str, record: dict
) -> None:
    """One service's answers while Kafka is down: problem+json 503 with Retry-After, single and batch;
    /readyz names Kafka; the failed publishes are counted."""
    auth = {"Authorization": f"Bearer {writer}"}
    url = f"{URLS[service]}/v1/{RESOURCES[service]}"
    before = publish_failures((await client.get(f"{URLS[service]}/metrics")).text, service)
    r = await client.post(url, json=record, headers=auth)
    assert r.status_code == 503, f"{service}: {r.status_code} {r.text}"
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["status"] == 503 and "Kafka" in r.json()["detail"]
    batch = await client.post(f"{url}:batch", json={"items": [record]}, headers=auth)
    assert batch.status_code == 503 and "retry-after" in batch.headers, service
    await reports_failure(client, URLS[service], "kafka")
    after = publish_failures((await client.get(f"{URLS[service]}/metrics")).text, service)
    assert after >= before + 2, f"{service}: publish failures not counted"


async def test_c_broker_sigkill_and_restart(tokens, summary: Summary):
    summary.fault = f"SIGKILL the Kafka broker for {OUTAGE_S:.0f}+ s while records are posted; restart it"
    workload, windows = Workload.fresh(), list[Window]()
    async with stack_scoring() as scoring, httpx.AsyncClient(timeout=30) as client:

        async def fault(driver: Driver) -> float:
            async with outage("kafka") as window:
                windows.append(window)
                probes = {s: workload.record(s) for s in SERVICES}
                await asyncio.gather(
                    *(refused_while_broker_down(client, tokens["writer"], s, r) for s, r in probes.items()),
                    asyncio.sleep(OUTAGE_S),
                )
                for service, record in probes.items():  # refused, so the senders retry them
                    driver.submit(Item(service, (record,)))
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault, workload)
    assert_refused(summary, outcome.driver, windows)
    check(outcome)
    summary.notes["review_queue_follows_after_s"] = await review_queue_follows(tokens)


async def review_queue_follows(tokens: dict) -> float:
    """After the broker's restart the scoring API's topic followers still follow: a record
    submitted for review now is listed by GET /v1/submissions (its follower once stopped reading
    without a word when aiokafka's fetch task ended with the broker)."""
    court, branch, member = new_id("court-out"), new_id("out"), new_id("m-out")
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"name": "故障后审核", "court": court, "members": 1}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        r = await client.put(f"{URLS['scoring']}/v1/branches/{branch}", json=body, headers=admin)
        assert r.status_code == 200, r.text
        mine = {"Authorization": f"Bearer {dev_issuer.mint(['member'], court, branch, member, 600)}"}
        at = datetime(2024, 3, 5, 1, tzinfo=UTC)
        record = {**contact(branch, at, member_id=member), "id": new_id("out")}
        r = await client.post(f"{URLS['liaison']}/v1/contacts", json=record, headers=mine)
        assert r.status_code == 202, r.text

        async def listed() -> set[str]:
            r = await client.get(f"{URLS['scoring']}/v1/submissions", headers=mine)
            return {i["id"] for i in r.json()["items"]} if r.status_code == 200 else set()

        assert record["id"] in await poll(listed, lambda ids: record["id"] in ids, deadline_s=90)
    return round(time.monotonic() - began, 1)


async def test_d_database_sigkill_and_restart(tokens, summary: Summary):
    summary.fault = f"SIGKILL FerretDB for {OUTAGE_S:.0f}+ s while the worker applies events; restart it"
    windows = list[Window]()
    async with stack_scoring() as scoring, httpx.AsyncClient(timeout=30) as client:
        worker = URLS["worker"]

        async def fault(driver: Driver) -> float:
            async with outage("ferretdb") as window:
                windows.append(window)
                await asyncio.gather(
                    reports_failure(client, worker, "mongodb"),
                    reports_failure(client, URLS["volunteer"], "mongodb"),
                    asyncio.sleep(OUTAGE_S),
                )
                summary.notes["worker_readyz_503_after_s"] = round(time.monotonic() - window.began, 1)
            return time.monotonic()

        outcome = await run(summary, tokens, scoring, fault)
        status, body = await readiness(client, worker)
        assert status == 200, f"the worker is not ready again: {status} {body}"
    assert_refused(summary, outcome.driver, windows)
    check(outcome)


def assert_refused(summary: Summary, driver: Driver, windows: list[Window]) -> None:
    """Every post answered while the process was down got 503 (none was acknowledged), and the
    senders met the outage."""
    assert windows, "the fault never began"
    during = answers_during(driver.attempts, windows[0])
    summary.notes["answers_during_outage"] = dict(during)
    summary.notes["ready_after_restart_s"] = round(windows[0].restored - windows[0].ended, 1)
    assert set(during) <= {"503"}, f"while it was down: {dict(during)}"
    assert driver.tally.rejected_503 > 0, "the senders never met the outage"
