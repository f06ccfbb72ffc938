"""A record posted over HTTP shows in the live ranking: intake → Kafka → worker → MongoDB → API."""

from datetime import datetime, timedelta, timezone

import httpx

from tests.conftest import URLS, new_id, poll
from tests.support import deployment

CST = timezone(timedelta(hours=8))


async def test_posted_deployment_appears_in_yearly_ranking(tokens):
    branch = new_id("b")
    # Tests write to 2024, never to 2022 (the demo year), so the demo's figures stay exact.
    record = deployment(branch, datetime(2024, 5, 20, 9, 30, tzinfo=CST), hours=6)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(
            f"{URLS['volunteer']}/v1/deployments",
            json=record,
            headers={"Authorization": f"Bearer {tokens['writer']}"},
        )
        assert r.status_code == 202, r.text
        event_id = r.json()["id"]

        async def ranking() -> dict:
            r = await client.get(
                f"{URLS['scoring']}/v1/rankings",
                # The branch is not registered: it counts only when asked for.
                params={
                    "period": "2024",
                    "limit": 1000,
                    "dimension": "people",
                    "include_unregistered": "true",
                },
                headers={"Authorization": f"Bearer {tokens['reader']}"},
            )
            assert r.status_code == 200, r.text
            return {row["branch_id"]: row for row in r.json()["rows"]}

        rows = await poll(ranking, lambda rows: branch in rows)
        assert branch in rows, f"event {event_id} never reached the ranking"
        row = rows[branch]
        assert row["registered"] is False and row["name"] == branch and row["members"] == 1
        assert row["scores"]["people"] == 3.0  # 6 h x 0.5 per hour, one member
        assert row["score"] == row["scores"]["people"]


async def test_rankings_require_reader_scope(tokens):
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{URLS['scoring']}/v1/rankings?period=2024"
        assert (await client.get(url)).status_code == 401
        r = await client.get(url, headers={"Authorization": f"Bearer {tokens['writer']}"})
        assert r.status_code == 403


async def test_every_process_serves_health_readiness_and_metrics():
    async with httpx.AsyncClient(timeout=10) as client:
        for name, url in URLS.items():
            assert (await client.get(f"{url}/healthz")).status_code == 200, name
            ready = await client.get(f"{url}/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready", name
            metrics = await client.get(f"{url}/metrics")
            assert metrics.status_code == 200 and "# TYPE" in metrics.text, name
