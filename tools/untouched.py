"""Proof that a command leaves the user's system (the default copy `make up` runs) as it was.

`python -m tools.untouched [--watch NAME] [COMMAND...]` (default: `make test`) snapshots the default
copy (--watch: the copy STACK_INSTANCE=NAME would name, to try the check itself), runs COMMAND,
snapshots again and prints what differs, or "untouched". The snapshot: through the scoring
API with the demo reader token (deploy/local/dev.env), the rankings of the demo year's periods and
of the years tests and benchmarks write (2024, 2025), the stats of those years, the court tree and
the branch list; from Kafka, the topics with their end offsets and the consumer groups with their
committed offsets; from the database server, the databases. Exit status: 1 if anything differs,
else COMMAND's. Take it while the user's system is idle (its worker has scored what it was sent).
"""

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from pymongo import MongoClient

from tools.demo.target import ROOT, dev_env
from tools.instance import Instance, instance

DEMO_PERIODS = ["2022", *(f"2022-Q{q}" for q in range(1, 5)), *(f"2022-{m:02d}" for m in range(1, 13))]
WRITTEN_YEARS = ["2024", "2025"]  # the tests' year and the benchmarks' year
MAX_LINES = 40
RETRY_S = 120  # a process of the copy restarting (make up, a developer) is waited for, not reported
SETTLE_EVERY_S, SETTLE_LIMIT_S = 10.0, 1800.0  # a copy standing still this long is idle


def api_snapshot(copy: Instance, token: str) -> dict[str, Any]:
    """What the leaders' API answers about the demo year, the written years and the registry."""
    found: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=copy.urls["scoring"], headers=headers, timeout=120) as client:

        def get(path: str, **params: str | int) -> Any:
            deadline = time.monotonic() + RETRY_S
            while True:
                try:
                    r = client.get(path, params=params)
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
                    continue
                if r.status_code == 503 and time.monotonic() < deadline:
                    time.sleep(1)
                    continue
                return r.json() if r.status_code == 200 else {"status": r.status_code, "body": r.text[:200]}

        for period in [*DEMO_PERIODS, *WRITTEN_YEARS]:
            found[f"rankings {period}"] = get("/v1/rankings", period=period, limit=1000)
        for year in ["2022", *WRITTEN_YEARS]:
            found[f"stats {year}"] = get("/v1/stats", **{"from": f"{year}-01", "to": f"{year}-12"})
        found["courts"] = get("/v1/courts")
        found["branches"] = get("/v1/branches")
    return found


async def kafka_snapshot(copy: Instance) -> dict[str, Any]:
    """Every topic's end offsets and every consumer group's committed offsets (per topic, summed)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a topic deleted meanwhile is not news
    admin = AIOKafkaAdminClient(bootstrap_servers=copy.bootstrap_servers, request_timeout_ms=30_000)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=copy.bootstrap_servers, enable_auto_commit=False, request_timeout_ms=10_000
    )
    await admin.start()
    await consumer.start()
    try:
        # Kafka's own (__consumer_offsets) grows with every commit, even of offsets that did not move.
        topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        ends: dict[str, int] = {}
        for d in await admin.describe_topics(topics) if topics else []:
            partitions = [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
            try:
                ends[d["topic"]] = sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
            except (KafkaError, TimeoutError):
                continue  # deleted since it was listed (its maker dropped it): absent, as it now is
        groups: dict[str, dict[str, int]] = {}
        for group_id, _ in sorted(await admin.list_consumer_groups()):
            committed = await admin.list_consumer_group_offsets(group_id)
            per_topic: dict[str, int] = {}
            for tp, meta in committed.items():
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + meta.offset
            groups[group_id] = dict(sorted(per_topic.items()))
    finally:
        await consumer.stop()
        await admin.close()
    return {"topics (end offsets)": dict(sorted(ends.items())), "consumer groups (committed offsets)": groups}


def database_snapshot(copy: Instance) -> dict[str, Any]:
    client: MongoClient = MongoClient(copy.mongo_url, serverSelectionTimeoutMS=5000)
    with client:
        return {"databases": sorted(client.list_database_names())}


def settle(copy: Instance, every_s: float = SETTLE_EVERY_S, limit_s: float = SETTLE_LIMIT_S) -> float:
    """Wait until the copy's topics and consumer groups stand still over `every_s` (its worker has
    scored what it was sent: a snapshot taken while it catches up would differ from the next for
    its own reasons); seconds waited. TimeoutError past `limit_s`."""
    began = time.monotonic()
    last = asyncio.run(kafka_snapshot(copy))
    while True:
        time.sleep(every_s)
        now = asyncio.run(kafka_snapshot(copy))
        if now == last:
            return time.monotonic() - began
        if time.monotonic() - began > limit_s:
            raise TimeoutError(f"the copy's topics or consumer groups still moved after {limit_s:.0f} s")
        print("  the copy is still busy (its worker catching up): waiting", flush=True)
        last = now


def snapshot(copy: Instance, token: str) -> dict[str, Any]:
    """Everything compared, as JSON-like values."""
    return {
        **api_snapshot(copy, token),
        **asyncio.run(kafka_snapshot(copy)),
        **database_snapshot(copy),
    }


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two snapshots differ, one line per changed leaf (a key, an item, a value)."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(before.keys() | after.keys(), key=str):
            where = f"{path} / {key}" if path else str(key)
            if key not in after:
                lines.append(f"{where}: gone (was {short(before[key])})")
            elif key not in before:
                lines.append(f"{where}: new ({short(after[key])})")
            else:
                lines += differences(before[key], after[key], where)
        return lines
    if isinstance(before, list) and isinstance(after, list):
        # Items by content: a registered branch or a moved row shows as itself, not as a shifted list.
        old = [json.dumps(x, ensure_ascii=False, sort_keys=True) for x in before]
        new = [json.dumps(x, ensure_ascii=False, sort_keys=True) for x in after]
        if old == new:
            return []
        if sorted(old) == sorted(new):
            return [f"{path}: the same {len(old)} items in another order"]
        gone, added = Counter(old) - Counter(new), Counter(new) - Counter(old)
        return [f"{path}: - {clip(x)}" for x in gone.elements()] + [
            f"{path}: + {clip(x)}" for x in added.elements()
        ]
    return [] if before == after else [f"{path}: {short(before)} -> {short(after)}"]


def short(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False, sort_keys=True))


def clip(text: str) -> str:
    return text if len(text) <= 120 else f"{text[:117]}..."


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.untouched", description=__doc__.splitlines()[0])
    parser.add_argument("--watch", default="", help="the copy to watch (default: the user's, `make up`'s)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="default: make test")
    args = parser.parse_args(argv)
    command = args.command or ["make", "test"]
    # The user's copy (or the one watched), whatever copy the command is told to use.
    env = {k: v for k, v in os.environ.items() if k not in ("STACK_INSTANCE", "STACK_PORT_OFFSET")}
    copy = instance({**env, "STACK_INSTANCE": args.watch})
    token = {**dev_env(), **os.environ}["DEV_READER_TOKEN"]
    which = f"copy {copy.name}" if copy.name else "default copy"
    print(f"snapshot of the {which} ({copy.urls['scoring']}, {copy.bootstrap_servers})", flush=True)
    try:
        settle(copy)
        before = snapshot(copy, token)
    except (httpx.HTTPError, OSError) as err:
        print(f"the {which} does not answer ({err!r}): start it (make up)", file=sys.stderr)
        return 2
    print(f"running: {' '.join(command)}", flush=True)
    status = subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603 (the caller's command)
    settle(copy)
    after = snapshot(copy, token)
    if lines := differences(before, after):
        print(f"CHANGED: {len(lines)} difference(s) in the {which}:")
        print("\n".join(f"  {line}" for line in lines[:MAX_LINES]))
        if len(lines) > MAX_LINES:
            print(f"  ... and {len(lines) - MAX_LINES} more")
        return 1
    print(f"untouched ({len(before)} answers, topics, groups and databases compared; command exit {status})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
