"""A scoring API process of a test's own: its own database and score feed (so a test may switch
generations or load 10,000 branches without touching the shared system), on the shared broker
and MongoDB-wire server, with the limits the test chooses."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import httpx
import msgspec
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.summary import LedgerSummary
from services.scoring.score_feed import SCORE_FEED_CONFIG, encode, feed_key, feed_topic
from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from tests.conftest import BOOTSTRAP, MONGO_URL, ROOT, dev_env, new_id
from tests.support import LOG_DIR, drop_topics

MONGO = MONGO_URL


@dataclass
class OwnApi:
    url: str
    database: str
    db: AsyncDatabase
    proc: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(
    branch: str, stream: str, offset: int, points: dict[str, float], at: datetime, kinds: dict | None = None
) -> dict[str, Any]:
    """A ledger summary as the worker publishes it, for 2024 (every month, quarter and the year)."""
    score = {
        "points": {d: points.get(d, 0.0) for d in ("service", "trial", "people", "team")},
        "kinds": kinds or {"visit": {"count": 1, "hours": 0.0, "points": 1.0}},
        "caps_hit": [],
        "members": ["m-1"],
    }
    month = f"2024-{at.month:02d}"
    quarter = f"2024-Q{(at.month - 1) // 3 + 1}"
    return {
        "_id": f"{branch}|{stream}|2024",
        "branch_id": branch,
        "stream": stream,
        "year": "2024",
        "offset": offset,
        "rulebook_version": "test",
        "last_event_time": at.isoformat(),
        "scores": {month: score, quarter: score, "2024": score},
    }


async def publish(database: str, generation: int, summaries: list[dict[str, Any]]) -> None:
    """Put summaries on `database`'s score feed, as a worker of that generation would."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=20, max_request_size=8 << 20)
    await producer.start()
    try:
        sent = [
            await producer.send(
                feed_topic(database),
                encode(generation, msgspec.convert(s, LedgerSummary)),
                key=feed_key(generation, s["_id"]).encode(),
            )
            for s in summaries
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _start(database: str, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, BinaryIO]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{database}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.scoring", "api"],
        cwd=ROOT,
        env={**os.environ, **dev_env(), "MONGO_DATABASE": database, "SCORING_API_PORT": str(port), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


@asynccontextmanager
async def own_api(**env: str) -> AsyncIterator[OwnApi]:
    """Start the API on a fresh database (no generation pointer yet) and wait until it is ready."""
    database, port = new_id("api").replace("-", "_"), _free_port()
    await ensure_topics(KafkaSettings(), [feed_topic(database)], SCORE_FEED_CONFIG)
    client: AsyncMongoClient = AsyncMongoClient(MONGO, tz_aware=True)
    proc, log = _start(database, port, env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            deadline = time.monotonic() + 180
            while True:
                assert proc.poll() is None, f"the API exited: see {log.name}"
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"the API never got ready: see {log.name}"
                await asyncio.sleep(0.3)
        yield OwnApi(url, database, client[database], proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        await client.drop_database(database)
        await client.close()
        await asyncio.to_thread(drop_topics, [feed_topic(database)])
