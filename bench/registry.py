"""Register the bench branches through the admin API (PUT /v1/branches/{id}); skip those already there."""

import asyncio
import time

import aiohttp

from bench.config import API, Tokens
from bench.dataset import BenchCity


async def registered(session: aiohttp.ClientSession, tokens: Tokens) -> dict[str, dict]:
    """The registry now; retried, as other helpers restart the database at times."""
    headers = {"Authorization": f"Bearer {tokens.reader}"}
    for attempt in range(1, 6):
        try:
            async with session.get(f"{API}/v1/branches", headers=headers) as r:
                r.raise_for_status()
                return {b["branch_id"]: b for b in await r.json()}
        except (aiohttp.ClientError, TimeoutError) as err:
            print(f"  GET /v1/branches failed ({err!r}); attempt {attempt} of 5", flush=True)
            await asyncio.sleep(5)
    raise RuntimeError("the scoring API does not answer GET /v1/branches")


async def register(city: BenchCity, tokens: Tokens, parallel: int = 16) -> int:
    """PUT every branch that is missing or differs; how many were written."""
    headers = {"Authorization": f"Bearer {tokens.admin}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        have = await registered(session, tokens)
        todo = [
            b
            for b in city.branches.values()
            if any(have.get(b.branch_id, {}).get(k) != v for k, v in b.body.items())
        ]
        if not todo:
            return 0
        print(f"  registering {len(todo):,} branches", flush=True)
        began, queue = time.monotonic(), list(reversed(todo))

        async def put_some() -> None:
            while queue:
                branch = queue.pop()
                url = f"{API}/v1/branches/{branch.branch_id}"
                for attempt in range(5):
                    async with session.put(url, json=branch.body, headers=headers) as r:
                        if r.status < 500:
                            r.raise_for_status()
                            break
                    await asyncio.sleep(1 + attempt)
                else:
                    raise RuntimeError(f"PUT {url} keeps failing")

        await asyncio.gather(*(put_some() for _ in range(parallel)))
        print(f"  registered {len(todo):,} branches in {time.monotonic() - began:.1f}s", flush=True)
        return len(todo)
