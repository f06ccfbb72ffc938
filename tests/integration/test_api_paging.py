"""A leader of the 1,500th branch finds it: rankings page past 1,000 rows with a cursor pinned to
the version they started from, a branch's breakdown says its rank in its court and the city (the
ranks /v1/rankings shows), and a second API process answers a cursor from the first correctly or
with 410 and a fresh first page (an API of the test's own, fed straight onto its score feed)."""

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import new_id, poll
from tests.integration.own_api import _free_port, _start, own_api, publish, summary

N, COURTS = 2_500, 5
AT = datetime(2024, 3, 6, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
async def api():
    async with own_api() as api:
        yield api


@pytest.fixture(scope="module")
async def city(api):
    """N registered branches of 3 members in COURTS courts, with many ties (29 distinct scores)."""
    court = new_id("court")
    ids = [f"{court}-{i:05d}" for i in range(N)]
    docs = [
        {"_id": b, "name": b, "court": f"{court}-{i % COURTS}", "court_name": None, "members": 3}
        for i, b in enumerate(ids)
    ]
    await api.db["branches"].insert_many(docs)
    await publish(
        api.database, 1, [summary(b, "liaison", 1, {"service": float(i % 29)}, AT) for i, b in enumerate(ids)]
    )
    return {"court": court, "ids": ids}


def headers(tokens) -> dict:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {tokens['reader']}"}


async def every_page(client: httpx.AsyncClient, tokens, first: str) -> list[dict]:  # type: ignore[no-untyped-def]
    pages, link = [], first
    while link:
        r = await client.get(link, headers=headers(tokens))
        assert r.status_code == 200, r.text
        pages.append(r.json())
        link = pages[-1]["next"]
    return pages


async def test_rankings_page_past_a_thousand_rows_and_a_branch_finds_its_own_rank(api, city, tokens):
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:

        async def ranked() -> int:
            r = await client.get(
                "/v1/rankings", params={"period": "2024", "limit": 1}, headers=headers(tokens)
            )
            return int(r.json()["total_branches"]) if r.status_code == 200 else 0

        assert await poll(ranked, lambda n: n == N, deadline_s=240) == N
        pages = await every_page(client, tokens, "/v1/rankings?period=2024&limit=1000")
        assert [len(p["rows"]) for p in pages] == [1000, 1000, 500]
        assert len({p["version"] for p in pages}) == 1 and [p["offset"] for p in pages] == [0, 1000, 2000]
        rows = [r for p in pages for r in p["rows"]]
        assert len({r["branch_id"] for r in rows}) == N
        # Competition ranks over all N, to the last row: 29 scores, each shared by 86 or 87 branches.
        scores = [r["score"] for r in rows]
        assert scores == sorted(scores, reverse=True)
        assert all(r["rank"] == 1 + sum(s > r["score"] for s in scores) for r in rows[::97] + rows[-3:])
        assert rows[-1]["rank"] > 1000

        for row in (rows[0], rows[1499], rows[-1]):
            r = await client.get(
                f"/v1/branches/{row['branch_id']}/score", params={"period": "2024"}, headers=headers(tokens)
            )
            assert r.status_code == 200, r.text
            mine = r.json()["rank"]
            assert (mine["dimension"], mine["score"]) == ("total", row["score"])
            assert mine["city"] == {"rank": row["rank"], "of": N}
            court_id = row["court"]
            court = await client.get(
                "/v1/rankings",
                params={"period": "2024", "court": court_id, "limit": 1000},
                headers=headers(tokens),
            )
            (in_court,) = [x for x in court.json()["rows"] if x["branch_id"] == row["branch_id"]]
            assert mine["court"] == {"rank": in_court["rank"], "of": N // COURTS}
        # By another dimension: the rank among the same branches by that dimension.
        r = await client.get(
            f"/v1/branches/{rows[0]['branch_id']}/score",
            params={"period": "2024", "dimension": "team"},
            headers=headers(tokens),
        )
        assert r.json()["rank"]["city"] == {"rank": 1, "of": N}  # nobody has team points: all tie first


@asynccontextmanager
async def another_api(database: str) -> AsyncIterator[str]:
    """One more API process on `database` (its feed, its registry), once it is ready."""
    port = _free_port()
    proc, log = _start(database, port, {})
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def ready() -> int:
                try:
                    return (await client.get(f"{url}/readyz")).status_code
                except httpx.HTTPError:
                    return 0

            assert await poll(ready, lambda s: s == 200, deadline_s=180) == 200, f"see {log.name}"
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


async def test_a_cursor_keeps_its_version_and_another_process_answers_it_or_says_gone(api, city, tokens):
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:

        async def first_page(url: str = "") -> dict:
            r = await client.get(f"{url}/v1/rankings?period=2024&limit=1000", headers=headers(tokens))
            return r.json() if r.status_code == 200 else {}

        first = await first_page()
        assert first["total_branches"] == N  # the previous test waited for every branch
        old_next = first["next"]
        async with another_api(api.database) as other:
            assert (
                await poll(lambda: first_page(other), lambda p: p.get("version") == first["version"], 180)
            )["version"] == first["version"]
            # The same ranking there: the first process's cursor is answered with the same page.
            here = await client.get(old_next, headers=headers(tokens))
            there = await client.get(f"{other}{old_next}", headers=headers(tokens))
            assert (here.status_code, there.status_code) == (200, 200), (here.text[:300], there.text[:300])
            assert here.json()["rows"] == there.json()["rows"]

        # The ranking changes: the last row of the first page jumps to the top.
        mover = first["rows"][-1]["branch_id"]
        await publish(api.database, 1, [summary(mover, "liaison", 2, {"service": 500.0}, AT)])
        moved = await poll(first_page, lambda p: p.get("rows", [{}])[0].get("branch_id") == mover, 120)
        assert moved["version"] != first["version"], moved.get("rows", [])[:1]
        # Here the cursor's version is kept: the page it was cut from, no row of the first page again.
        here = await client.get(old_next, headers=headers(tokens))
        assert here.status_code == 200 and here.json()["version"] == first["version"]
        assert here.json()["offset"] == 1000
        assert not {r["branch_id"] for r in here.json()["rows"]} & {r["branch_id"] for r in first["rows"]}

        # A process that never held that version, whose ranking moved on: 410, and where to start.
        async with another_api(api.database) as third:
            now = await poll(lambda: first_page(third), lambda p: p.get("version") == moved["version"], 180)
            assert now.get("version") == moved["version"], now.get("rows", [])[:1]
            gone = await client.get(f"{third}{old_next}", headers=headers(tokens))
            assert gone.status_code == 410, gone.text
            assert gone.headers["content-type"] == "application/problem+json"
            body = gone.json()
            assert (
                body["status"] == 410
                and body["first"] == "/v1/rankings?period=2024&dimension=total&limit=1000"
            )
            assert gone.headers["link"] == f'<{body["first"]}>; rel="first"'
            # Its own cursor of the current version is answered by the first process alike.
            theirs = (await first_page(third))["next"]
            assert (await client.get(theirs, headers=headers(tokens))).json()["rows"] == (
                await client.get(f"{third}{theirs}", headers=headers(tokens))
            ).json()["rows"]
            bad = await client.get(
                f"{third}/v1/rankings?period=2024&cursor=nonsense", headers=headers(tokens)
            )
            assert bad.status_code == 422
            streamed = await client.get(
                f"{third}/v1/rankings/stream?period=2024&cursor=WyJ4IiwxXQ", headers=headers(tokens)
            )
            assert streamed.status_code == 422  # a stream starts from a snapshot, never from a cursor
