"""Figure 6, ranking queries: the year's top 50 (limit=50, total, whole city) asked by many
concurrent clients for a fixed time, once the bench branches are scored."""

import asyncio
import time
from collections import Counter

import aiohttp

from bench.config import API, Sizes, Tokens
from bench.dataset import YEAR
from bench.stats import summary_ms

QUERY = {"period": YEAR, "dimension": "total", "limit": "50"}


async def _wait_for_scores(session: aiohttp.ClientSession, url: str, headers: dict, want: int) -> tuple:
    """Poll (every 2 s, at most 300 s) until the ranking counts `want` branches: right after a
    rescore's switch the API may still be loading the new generation. (seconds waited, last answer)"""
    began = time.monotonic()
    while True:
        async with session.get(url, params=QUERY, headers=headers) as r:
            r.raise_for_status()
            body = await r.json()
        if body["total_branches"] >= want or time.monotonic() - began > 300:
            return round(time.monotonic() - began, 1), body
        await asyncio.sleep(2)


async def ranking(sizes: Sizes, tokens: Tokens, want: int) -> dict:
    """Requests per second and latencies of 200 answers, once `want` branches are ranked."""
    headers, url = {"Authorization": f"Bearer {tokens.reader}"}, f"{API}/v1/rankings"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=sizes.ranking_clients)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        waited_s, first = await _wait_for_scores(session, url, headers, want)
        stop_at = time.monotonic() + sizes.ranking_seconds

        async def client() -> None:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                async with session.get(url, params=QUERY, headers=headers) as r:
                    await r.read()
                statuses[r.status] += 1
                if r.status == 200:
                    latencies.append(time.monotonic() - sent)

        began = time.monotonic()
        await asyncio.gather(*(client() for _ in range(sizes.ranking_clients)))
        seconds = time.monotonic() - began
    p = summary_ms(latencies)
    return {
        "ranking_rps": round(len(latencies) / seconds, 1),
        "ranking_p99_ms": p["p99_ms"],
        "latency": p,
        "statuses": dict(statuses),
        "total_branches": first["total_branches"],
        "waited_for_scores_s": waited_s,
        "seconds": round(seconds, 1),
    }
