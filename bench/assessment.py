"""Compliance and advanced candidates at 10,000 branches: `GET /v1/compliance?period=<year>` (its
first page) and `GET /v1/advanced-branches?year=<year>` from concurrent clients for a fixed time,
after the ranking queries (the bench branches scored). The first answer of each, which computes it,
is reported on its own."""

import asyncio
import time
from collections import Counter

import aiohttp

from bench.config import API, Sizes, Tokens
from bench.dataset import YEAR
from bench.stats import summary_ms

QUERIES = {
    "compliance": ("/v1/compliance", {"period": YEAR}),
    "advanced": ("/v1/advanced-branches", {"year": YEAR}),
}
CLIENTS = 8  # the leaders who open these at once (closed loop; rankings are measured open loop)


async def _measure(
    session: aiohttp.ClientSession, path: str, params: dict, headers: dict, seconds: float
) -> dict:
    sent = time.monotonic()
    async with session.get(f"{API}{path}", params=params, headers=headers) as r:
        await r.read()
        r.raise_for_status()
    first_ms = round((time.monotonic() - sent) * 1000, 1)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            async with session.get(f"{API}{path}", params=params, headers=headers) as r:
                await r.read()
            statuses[r.status] += 1
            if r.status == 200:
                latencies.append(time.monotonic() - sent)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return {"first_ms": first_ms, "latency": summary_ms(latencies), "statuses": dict(statuses)}


async def assessment(sizes: Sizes, tokens: Tokens) -> dict:
    """p99 of 200 answers per query, with CLIENTS concurrent clients for half the ranking time each."""
    headers = {"Authorization": f"Bearer {tokens.reader}"}
    out: dict = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        for name, (path, params) in QUERIES.items():
            out[name] = d = await _measure(
                session, path, params, headers, max(5.0, sizes.ranking_seconds / 2)
            )
            out[f"{name}_p99_ms"] = d["latency"]["p99_ms"]
    return out
