"""Helpers for tests that run their own processes or talk to the running system."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from services.scoring.api.score_view import ScoreView
from services.scoring.generations import Generation
from services.scoring.rescore import commit_offsets, end_offsets, rescore
from services.scoring.routing import routed_topics
from services.scoring.rulebooks import load_rulebook
from services.scoring.score_feed import feed_topic
from shared.kafka import BrokerUnavailable, partitions_of
from shared.settings import KafkaSettings
from tests.conftest import BOOTSTRAP, INSTANCE, MONGO_URL, ROOT, URLS, dev_env, new_id

LOG_DIR = INSTANCE.log / "tests"  # beside the logs of the copy the tests run against


def start_worker(app_id: str, database: str, port: int, **env_extra: str) -> subprocess.Popen:
    """A scoring worker of consumer group `app_id` writing to `database`, health on `port`."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **dev_env(),
        "SCORING_WORKER_APP_ID": app_id,
        "SCORING_WORKER_WEB_PORT": str(port),
        "MONGO_DATABASE": database,
        **env_extra,
    }
    log = open(LOG_DIR / f"worker-{app_id}-{port}.log", "ab")  # the child keeps it open
    return subprocess.Popen(
        [sys.executable, "-m", "services.scoring", "worker", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def workers(
    app_id: str, database: str, ports: list[int], **env_extra: str
) -> Iterator[dict[int, subprocess.Popen]]:
    """Start workers; whatever happens, none is left running afterwards (the dict may gain more)."""
    procs = {p: start_worker(app_id, database, p, **env_extra) for p in ports}
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if app_id != stack_app_id():  # a test's own app: its repartition and feed topics go too
            leader = f"{Generation(1).group(app_id)}-__assignor-__leader"  # faust's own
            drop_topics([*routed_topics(app_id), feed_topic(database), leader])


def drop_topics(names: list[str]) -> None:
    """Delete topics a test made (from sync code too: in a thread with a loop of its own)."""

    async def drop() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            if found := [n for n in names if n in existing]:
                await admin.delete_topics(found)
        finally:
            await admin.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop()).result(timeout=60)


async def start_group_at_end(app_id: str) -> None:
    """Let new workers of `app_id` skip the log so far: their router forwards (and so their
    generation 1 scores) only what follows."""
    kafka = KafkaSettings()
    await commit_offsets(kafka, f"{app_id}-router", await end_offsets(kafka))


def stack_app_id() -> str:
    return dev_env().get("SCORING_WORKER_APP_ID", "scoring")


async def recompute(database: str, rulebook_path: Path | None = None) -> None:
    """Rebuild scores from the whole Kafka log into `database` (generation 2), as `make rescore` does,
    under a consumer-group name of its own so the running system is untouched."""
    client = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        rulebook = load_rulebook(rulebook_path) if rulebook_path else load_rulebook()
        await rescore(
            KafkaSettings(),
            client[database],
            MONGO_URL,
            rulebook,
            new_id("recompute"),
            lambda _: None,
            routed_from=stack_app_id(),  # the stack's workers route every record of the log
        )
    finally:
        await client.close()


async def scored(database: str, branches: list[str], generation: int = 1) -> dict[tuple[str, str, str], dict]:
    """(branch, stream, period) -> its 2024 scores as an API of `database` would show them (read
    from the score feed the workers of `database` publish), without bookkeeping fields."""
    periods = ["2024", *(f"2024-Q{q}" for q in range(1, 5)), *(f"2024-{m:02d}" for m in range(1, 13))]
    view, wanted = await feed_view(database, generation), set(branches)
    return {
        (row.branch_id, row.stream, row.period): msgspec.to_builtins(row.score)
        for row in view.period_docs(periods)
        if row.branch_id in wanted
    }


async def poll_partitions(topic: str, deadline_s: float = 30) -> list:
    """A topic's partitions once the broker describes them (a new topic's leader takes a moment)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return await partitions_of(KafkaSettings(), [topic])
        except BrokerUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def feed_view(database: str, generation: int) -> ScoreView:
    """The score view an API of `database` builds: the whole score feed, read to its end."""
    topic = feed_topic(database)
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await poll_partitions(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends, view = await consumer.end_offsets(tps), ScoreView(generation)
        prefix = f"g{generation}|".encode()
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.key and r.key.startswith(prefix) and r.value:
                        view.apply(r.value)
        return view
    finally:
        await consumer.stop()


def metric(port: int, name: str) -> float | None:
    """One unlabelled metric from a worker's /metrics, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def deployment(branch_id: str, at: datetime, hours: float = 2.0, member_id: str | None = None) -> dict:
    return {
        "member_id": member_id or new_id("m"),
        "branch_id": branch_id,
        "kind": "tianping_volunteer_team",
        "started_at": at.isoformat(),
        "hours": hours,
        "place": "Yunhe district community centre",
    }


RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}


async def post_batch(client: httpx.AsyncClient, service: str, token: str, records: list[dict]) -> list[str]:
    """Post records in batches of 500 through an intake service; return the accepted ids."""
    ids = []
    for start in range(0, len(records), 500):
        r = await client.post(
            f"{URLS[service]}/v1/{RESOURCES[service]}:batch",
            json={"items": records[start : start + 500]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        ids += [item["id"] for item in r.json()["results"] if item["status"] == 202]
    return ids


async def post_deployments(client: httpx.AsyncClient, token: str, records: list[dict]) -> list[str]:
    return await post_batch(client, "volunteer", token, records)


def contact(branch_id: str, at: datetime, kind: str = "visit", member_id: str = "m-1") -> dict:
    return {
        "member_id": member_id,
        "branch_id": branch_id,
        "kind": kind,
        "channel": "offline",
        "enterprise": {"name": "沧州某机械制造有限公司", "credit_code": "91350100M000100Y43"},
        "occurred_at": at.isoformat(),
    }


def completion(branch_id: str, at: datetime, kind: str, session_id: str, member_id: str = "m-1") -> dict:
    return {
        "member_id": member_id,
        "branch_id": branch_id,
        "kind": kind,
        "session_id": session_id,
        "completed_at": at.isoformat(),
    }
