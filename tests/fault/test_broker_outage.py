"""Stop the broker: every intake service answers 503 with Retry-After (never 202) while it is down,
and once it is back they, and the scoring worker, recover without being restarted."""

import subprocess
from datetime import datetime, timedelta, timezone

import httpx

from tests.conftest import ROOT, URLS, new_id, poll
from tests.integration.test_intake_kafka import completion, contact
from tests.support import deployment

CST = timezone(timedelta(hours=8))
PY = str(ROOT / ".venv" / "bin" / "python")
RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}
OUTAGE_AT = datetime(2024, 10, 8, 9, tzinfo=CST)


def stack(action: str, name: str) -> None:
    """deploy/local/stack.py up|down NAME (`up` returns once the process is ready)."""
    subprocess.run([PY, "deploy/local/stack.py", action, name], cwd=ROOT, check=True, timeout=180)


def records(branch: str, member: str) -> dict[str, dict]:
    """One record per service, each with an id of its own, all by one member of one branch."""
    return {
        "volunteer": deployment(branch, OUTAGE_AT, hours=4, member_id=member) | {"id": new_id("e")},
        "liaison": contact(branch, OUTAGE_AT) | {"id": new_id("e"), "member_id": member},
        "training": completion(branch, OUTAGE_AT) | {"id": new_id("e"), "member_id": member},
    }


async def post(client: httpx.AsyncClient, service: str, body: dict) -> httpx.Response:
    return await client.post(f"{URLS[service]}/v1/{RESOURCES[service]}", json=body)


def failures(text: str, service: str) -> float:
    prefix = "intake_publish_failures_total{"
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix) and f'service="{service}"' in ln]
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)


async def assert_refused_while_down(client: httpx.AsyncClient, outage: dict[str, dict]) -> None:
    for service, body in outage.items():
        before = failures((await client.get(f"{URLS[service]}/metrics")).text, service)
        r = await post(client, service, body)
        assert r.status_code == 503, f"{service}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["status"] == 503 and "Kafka" in r.json()["detail"]
        batch = await client.post(f"{URLS[service]}/v1/{RESOURCES[service]}:batch", json={"items": [body]})
        assert batch.status_code == 503 and "retry-after" in batch.headers, service
        ready = await client.get(f"{URLS[service]}/readyz")
        assert ready.status_code == 503 and "kafka" in ready.json()["failed"]
        after = failures((await client.get(f"{URLS[service]}/metrics")).text, service)
        assert after >= before + 2, f"{service}: publish failures not counted"


async def test_intake_answers_503_while_the_broker_is_down_and_recovers(tokens):
    branch, member = new_id("b"), new_id("m")
    outage = records(branch, member)
    headers = {"Authorization": f"Bearer {tokens['writer']}"}
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        for service in RESOURCES:  # each publisher is connected before the broker goes away
            r = await post(client, service, records(new_id("b"), new_id("m"))[service])
            assert r.status_code == 202, f"{service} before the outage: {r.status_code} {r.text}"
        try:
            stack("down", "kafka")
            await assert_refused_while_down(client, outage)
        finally:
            stack("up", "kafka")

        # The services were not restarted: the first posts may still get 503, then 202.
        for service, body in outage.items():
            r = await poll(lambda s=service, b=body: post(client, s, b), lambda r: r.status_code != 503, 60)
            assert r.status_code == 202, f"{service} did not recover: {r.status_code} {r.text}"
            assert r.json()["id"] == body["id"]

        worker = await poll(
            lambda: client.get(f"{URLS['worker']}/readyz"), lambda r: r.status_code == 200, 120
        )
        assert worker.status_code == 200, f"the scoring worker did not recover: {worker.text}"

        later = deployment(branch, OUTAGE_AT + timedelta(days=1), hours=1, member_id=member)
        assert (await post(client, "volunteer", later)).status_code == 202

        async def people() -> float | None:
            r = await client.get(
                f"{URLS['scoring']}/v1/rankings",
                params={"period": "2024", "dimension": "people", "limit": 1000},
                headers={"Authorization": f"Bearer {tokens['reader']}"},
            )
            rows = {row["branch_id"]: row for row in r.json()["rows"]} if r.status_code == 200 else {}
            return rows[branch]["scores"]["people"] if branch in rows else None

        # 4 h before the restart (refused, then retried) and 1 h after: each counted exactly once,
        # however often the producer and the retry delivered the first.
        score = await poll(people, lambda s: s is not None and s % 1 == 0.5, deadline_s=180, every_s=1)
        assert score == 2.5
