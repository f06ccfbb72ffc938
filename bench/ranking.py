"""Figure 6, ranking queries: the year's top 50 (limit=50, total, whole city) at a fixed offered
rate and on a ladder of rates (open loop), once the bench branches are scored."""

import asyncio
import time
from collections.abc import Awaitable
from urllib.parse import urlencode

import aiohttp

from bench.config import API, Sizes, Tokens
from bench.dataset import YEAR
from bench.http1 import Pool, encode
from bench.load import ladder, open_loop

QUERY = {"period": YEAR, "dimension": "total", "limit": "50"}
TARGET_MS = 50  # of a ranking's p99


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
    """Once `want` branches are ranked: the p99 at `sizes.ranking_rate` requests per second for
    `sizes.ranking_seconds` (open loop, timed from each request's scheduled start), then the ladder
    of rates up to the first whose p99 is over 50 ms."""
    headers, url = {"Authorization": f"Bearer {tokens.reader}"}, f"{API}/v1/rankings"
    query = f"{url}?{urlencode(QUERY)}"  # encoded once, not on every request
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        waited_s, first = await _wait_for_scores(session, url, headers, want)
    bound, pool, raw = sizes.max_outstanding, Pool(url), encode("GET", query, headers)

    def send(_: int) -> Awaitable[int]:
        return pool.request(raw)

    try:
        fixed = await open_loop(send, sizes.ranking_rate, sizes.ranking_seconds, max_outstanding=bound)
        print(f"    {sizes.ranking_rate:>6,}/s: p99 {fixed['p99_ms']} ms, {fixed['statuses']}", flush=True)
        print(f"  ladder of rates, {sizes.ladder_seconds} s each", flush=True)
        steps = await ladder(send, sizes.ladder, sizes.ladder_seconds, TARGET_MS, max_outstanding=bound)
    finally:
        pool.close()
    return {
        "ranking_p99_ms": fixed["p99_ms"],
        "ranking_max_rps": steps["max_rps"],
        "fixed": fixed,
        "ladder": steps,
        "total_branches": first["total_branches"],
        "waited_for_scores_s": waited_s,
        "connections": pool.opened,
    }
