"""`make backup` while the system runs, then `make restore` into another database and other topics:
the copy holds the same records, documents and consumer offsets, and a scoring API over it answers
a court's ranking and stats as the original does."""

import os
import signal
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bson
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import MongoClient

from services.scoring.score_feed import feed_topic
from shared.contracts import DEAD_LETTER, TOPICS
from tests.conftest import BOOTSTRAP, MONGO_URL, ROOT, URLS, dev_env, new_id, poll
from tests.support import LOG_DIR, completion, contact, drop_topics, post_batch
from tools.backup.archive import raw_documents, read_manifest, records

CST = timezone(timedelta(hours=8))
JULY = datetime(2024, 7, 8, 10, tzinfo=CST)
SCORING = URLS["scoring"]


def backup_tool(*args: str) -> str:
    """The tool as `make backup` / `make restore` run it; its summary line."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.backup", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def start_api(database: str) -> tuple[subprocess.Popen, str]:
    """A scoring API over `database` (its score feed follows the name) on a free port."""
    port = free_port()
    env = {**os.environ, **dev_env(), "MONGO_DATABASE": database, "SCORING_API_PORT": str(port)}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"restored-api-{port}.log", "ab") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "services.scoring", "api"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return api, f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def answers(base: str, reader: str, court: str) -> tuple[dict, dict]:
    headers = {"Authorization": f"Bearer {reader}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        ranking = await client.get("/v1/rankings", params={"period": "2024", "court": court})
        stats = await client.get("/v1/stats", params={"from": "2024-01", "to": "2024-12", "court": court})
        return ranking.json(), stats.json()


async def read_topic(topic: str, partitions: int) -> dict[int, list[tuple]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found: dict[int, list[tuple]] = {p: [] for p in range(partitions)}
        pending = {tp for tp in tps if end[tp] > 0}
        while pending:
            for tp, messages in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                found[tp.partition] += [
                    (m.offset, m.timestamp, m.key, m.value, [(k, bytes(v)) for k, v in m.headers])
                    for m in messages
                ]
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return found
    finally:
        await consumer.stop()


async def committed(group: str, topics: list[str]) -> dict[str, dict[str, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found: dict[str, dict[str, int]] = {}
    for tp, meta in offsets.items():
        if tp.topic in topics and meta.offset >= 0:
            found.setdefault(tp.topic, {})[str(tp.partition)] = meta.offset
    return found


@pytest.mark.timeout(1800)
async def test_a_backup_restored_elsewhere_holds_the_same_and_answers_the_same(tokens, tmp_path: Path):
    # 1. A court of our own, scored: its ranking and stats stay put while we compare.
    court, a, b = new_id("court"), new_id("bk-a"), new_id("bk-b")
    admin_headers = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, members in ((a, 2), (b, 3)):
            body = {
                "name": f"支部 {branch}",
                "court": court,
                "court_name": "备份测试法院",
                "members": members,
            }
            r = await client.put(f"{SCORING}/v1/branches/{branch}", json=body, headers=admin_headers)
            assert r.status_code == 200, r.text
        await post_batch(client, "liaison", tokens["writer"], [contact(a, JULY), contact(b, JULY, "visit")])
        await post_batch(
            client, "training", tokens["writer"], [completion(b, JULY, "lecture_hall", "lh-2024-07")]
        )

    def scored(result: tuple[dict, dict]) -> bool:
        ranking, stats = result
        records = {k: v["records"] for k, v in stats.get("streams", stats).items() if isinstance(v, dict)}
        # The ranking too must hold all three (the lecture hall is b's team points): ranking and
        # stats are two requests, and a ranking may be served from just before the last record.
        team = [r["scores"]["team"] for r in ranking.get("rows", [])]
        return len(team) == 2 and max(team) > 0 and sum(records.values()) == 3

    # Minutes when other suites load the worker (as test_board allows).
    live = await poll(lambda: answers(SCORING, tokens["reader"], court), scored, deadline_s=600)
    assert scored(live), live

    # 2. Backed up while everything runs; 3. restored beside the original.
    summary = backup_tool("create", "--out", str(tmp_path))
    archive = Path(summary.rsplit("-> ", 1)[1].strip())
    assert archive.parent == tmp_path and archive.name.startswith("backup-"), summary
    suffix = new_id("r").replace("-", "_")
    database, prefix = f"restore_{suffix}", f"restore-{suffix}."
    api = None
    with tarfile.open(archive, "r:gz") as tar:
        manifest = read_manifest(tar)
    try:
        backup_tool("restore", str(archive), "--database", database, "--prefix", prefix)

        # The documents, each as it was.
        with MongoClient(MONGO_URL) as mongo, tarfile.open(archive, "r:gz") as tar:
            for name, entry in manifest["mongo"]["collections"].items():
                archived = by_id(bytes(doc.raw) for doc in raw_documents(tar, name))
                batches = mongo[database].get_collection(name).find_raw_batches()
                restored = by_id(doc for batch in batches for doc in _split(batch))
                assert len(archived) == entry["count"], name
                assert restored == archived, name
            # The event topics and the dead letters: the same records at the same offsets.
            streams = [t.name for t in TOPICS.values()] + [DEAD_LETTER.name]
            for topic in [*streams, feed_topic(manifest["mongo"]["database"])]:
                entry = manifest["kafka"]["topics"][topic]
                restored_name = feed_topic(database) if "scores" in topic else prefix + topic
                got = await read_topic(restored_name, entry["partitions"])
                for p in range(entry["partitions"]):
                    want = [
                        (r.offset, r.timestamp, r.key, r.value, r.headers) for r in records(tar, topic, p)
                    ]
                    if topic in streams:  # kept whole: offsets are the originals
                        assert got[p] == want, (topic, p)
                    else:  # the compacted feed may have moved: the same records, in order
                        assert [g[1:] for g in got[p]] == [w[1:] for w in want], (topic, p)
        # The consumer groups resume where they were.
        for group, topics in manifest["kafka"]["groups"].items():
            kept = {t: o for t, o in topics.items() if t in streams}
            if kept:
                renamed = {prefix + t: o for t, o in kept.items()}
                assert await committed(prefix + group, list(renamed)) == renamed, group

        # 4. A scoring API over the copy answers the court's ranking and stats as the original.
        api, base = start_api(database)
        copy = await poll(
            lambda: _answers_or_none(base, tokens["reader"], court),
            lambda r: r is not None and steady(r) == steady(live),
            deadline_s=120,
        )
        assert copy is not None and steady(copy) == steady(live)
    finally:
        if api is not None:
            os.killpg(api.pid, signal.SIGKILL)
            api.wait()
        with MongoClient(MONGO_URL) as mongo:
            mongo.drop_database(database)
        drop_topics([prefix + t for t in manifest["kafka"]["topics"]] + [feed_topic(database)])


def steady(answer: tuple[dict, dict]) -> tuple[dict, dict]:
    """Without data_as_of: the time of the newest score anywhere, which other courts' records move."""
    ranking, stats = answer
    return {k: v for k, v in ranking.items() if k != "data_as_of"}, stats


def by_id(raws: Iterable[bytes]) -> list[dict]:
    """Documents decoded, in _id order (FerretDB may hand them back in another order)."""
    return sorted((bson.decode(raw) for raw in raws), key=lambda doc: repr(doc["_id"]))


async def _answers_or_none(base: str, reader: str, court: str) -> tuple[dict, dict] | None:
    try:
        return await answers(base, reader, court)
    except (httpx.HTTPError, ValueError):
        return None  # still starting


def _split(blob: bytes) -> list[bytes]:
    """BSON documents laid end to end, one by one (each starts with its int32 length)."""
    found, at = [], 0
    while at < len(blob):
        size = int.from_bytes(blob[at : at + 4], "little")
        found.append(blob[at : at + size])
        at += size
    return found
