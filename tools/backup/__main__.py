"""`make backup` and `make restore ARCHIVE=...`: the Kafka topics and the MongoDB database, while running.

    python -m tools.backup create [--out var/backups]
    python -m tools.backup restore ARCHIVE [--database NAME] [--prefix PREFIX]

Consistency without stopping anything: the consumer groups' offsets are read first, the database
second, the topics' end offsets last, and every record up to them is copied. Restored, the database
is at or behind the log it came with, and the groups at or behind the database: the worker replays
from the groups' offsets, which applying a record twice leaves unchanged (each ledger keeps the
offsets it folded), and so reaches the state of the log's end offsets.
"""

import argparse
import asyncio
import json
import re
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from services.scoring.score_feed import feed_topic
from shared.kafka import BrokerUnavailable, partitions_of
from shared.settings import KafkaSettings, MongoSettings
from tools.backup.archive import (
    Record,
    add,
    collection_member,
    partition_member,
    raw_documents,
    read_manifest,
    records,
)

ROOT = Path(__file__).resolve().parents[2]
RAW = CodecOptions(document_class=RawBSONDocument)
# Topic settings kept with the topic (the rest are the broker's defaults wherever it is restored).
KEPT_CONFIGS = ("cleanup.policy", "retention.ms", "retention.bytes", "max.message.bytes", "segment.bytes")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def group_offsets(admin: AIOKafkaAdminClient) -> dict[str, dict[str, dict[str, int]]]:
    """Every consumer group's committed offsets: group -> topic -> partition -> offset."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    for group, _ in await admin.list_consumer_groups():
        offsets = await admin.list_consumer_group_offsets(group)
        for tp, meta in offsets.items():
            if meta.offset >= 0:
                found.setdefault(group, {}).setdefault(tp.topic, {})[str(tp.partition)] = meta.offset
    return found


async def topic_configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
    configs: dict[str, dict[str, str]] = {t: {} for t in topics}
    for response in await admin.describe_configs(resources):
        for _code, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] in KEPT_CONFIGS and entry[1] is not None:
                    configs[name][entry[0]] = entry[1]
    return configs


def dump_database(tar: tarfile.TarFile, settings: MongoSettings) -> dict[str, Any]:
    client: MongoClient[RawBSONDocument] = MongoClient(settings.url, serverSelectionTimeoutMS=10_000)
    try:
        db = client.get_database(settings.database, codec_options=RAW)
        collections = {}
        for name in sorted(db.list_collection_names()):
            docs = [doc.raw for doc in db[name].find({}, batch_size=2000)]
            add(tar, collection_member(name), b"".join(docs))
            indexes = {
                index: {"key": info["key"], "unique": bool(info.get("unique"))}
                for index, info in db[name].index_information().items()
                if index != "_id_"
            }
            collections[name] = {"count": len(docs), "indexes": indexes}
        return {"database": settings.database, "collections": collections}
    finally:
        client.close()


async def copy_topics(tar: tarfile.TarFile, kafka: KafkaSettings, topics: list[str]) -> dict[str, Any]:
    """Every record of `topics` up to the end offsets read now."""
    consumer = AIOKafkaConsumer(
        **kafka.client_options(), enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    try:
        taken: dict[str, Any] = {}
        for topic in topics:
            try:
                tps = await partitions_of(kafka, [topic])
                low, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
            except (BrokerUnavailable, KafkaError):
                if topic in await vanished(kafka, [topic]):
                    say(f"backup: topic {topic} was deleted meanwhile: left out")
                    continue
                raise
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, low[tp])
            lines: dict[int, list[bytes]] = {tp.partition: [] for tp in tps}
            pending = {tp for tp in tps if end[tp] > low[tp]}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, messages in batch.items():
                    for m in messages:
                        if m.offset < end[tp]:
                            headers = [(k, bytes(v)) for k, v in m.headers]
                            lines[tp.partition].append(
                                Record(m.offset, m.timestamp, m.key, m.value, headers).line()
                            )
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
            for partition, data in lines.items():
                add(tar, partition_member(topic, partition), b"".join(data))
            taken[topic] = {
                "partitions": len(tps),
                "offsets": {str(tp.partition): [low[tp], end[tp]] for tp in tps},
                "records": sum(len(v) for v in lines.values()),
            }
        return taken
    finally:
        await consumer.stop()


async def vanished(kafka: KafkaSettings, topics: list[str]) -> set[str]:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        return set(topics) - set(await admin.list_topics())
    finally:
        await admin.close()


async def create(out: Path, topic_pattern: str) -> Path:
    kafka, mongo = KafkaSettings(), MongoSettings()
    started = datetime.now(UTC)
    path = out / f"backup-{started:%Y%m%dT%H%M%SZ}.tar.gz"
    partial = path.with_suffix(".partial")
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        clock = time.monotonic()
        groups = await group_offsets(admin)  # 1. the groups first: they may only lag what follows
        with tarfile.open(partial, "w:gz", compresslevel=3) as tar:
            database = dump_database(tar, mongo)  # 2. the database, behind the log read next
            topics = sorted(t for t in await admin.list_topics() if re.fullmatch(topic_pattern, t))
            configs = await topic_configs(admin, topics)
            taken = await copy_topics(tar, kafka, topics)  # 3. the log, up to its end offsets now
            for topic, entry in taken.items():
                entry["config"] = configs.get(topic, {})
            manifest = {
                "format": 1,
                "created": started.isoformat(),
                "seconds": round(time.monotonic() - clock, 1),
                "kafka": {"topics": taken, "groups": groups},
                "mongo": database,
            }
            add(tar, "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        partial.rename(path)
    finally:
        await admin.close()
    count = sum(t["records"] for t in taken.values())
    docs = sum(c["count"] for c in database["collections"].values())
    say(f"backup: {len(taken)} topics ({count} records), {docs} documents -> {path}")
    return path


def rename(name: str, manifest: dict[str, Any], database: str, prefix: str) -> str:
    """A topic's name where it is restored: the score feed follows the database, the rest take the prefix."""
    if name == feed_topic(manifest["mongo"]["database"]):
        return feed_topic(database)
    return prefix + name


def restore_database(tar: tarfile.TarFile, manifest: dict[str, Any], settings: MongoSettings) -> None:
    client: MongoClient[RawBSONDocument] = MongoClient(settings.url, serverSelectionTimeoutMS=10_000)
    try:
        db = client.get_database(settings.database, codec_options=RAW)
        if existing := db.list_collection_names():
            raise SystemExit(f"restore: database {settings.database} is not empty ({existing[:5]}...)")
        for name, entry in manifest["mongo"]["collections"].items():
            docs = raw_documents(tar, name)
            collection = db[name]
            for start in range(0, len(docs), 1000):
                collection.insert_many(docs[start : start + 1000], ordered=True)
            for index, spec in entry["indexes"].items():
                collection.create_index(list(spec["key"]), name=index, unique=spec["unique"])
            if not docs:
                db.create_collection(name)
    finally:
        client.close()


async def restore_topics(
    tar: tarfile.TarFile, manifest: dict[str, Any], kafka: KafkaSettings, database: str, prefix: str
) -> dict[tuple[str, int], dict[int, int]]:
    """Creates each topic afresh and writes its records in order; returns the offsets that moved."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    producer = AIOKafkaProducer(
        **kafka.client_options(),
        acks="all",
        enable_idempotence=True,
        max_request_size=8 << 20,
    )
    await admin.start()
    await producer.start()
    moved: dict[tuple[str, int], dict[int, int]] = {}
    try:
        topics = manifest["kafka"]["topics"]
        names = {t: rename(t, manifest, database, prefix) for t in topics}
        if clash := set(names.values()) & set(await admin.list_topics()):
            raise SystemExit(f"restore: topics exist already: {sorted(clash)[:5]}...")
        await admin.create_topics(
            [
                NewTopic(names[t], e["partitions"], kafka.replication_factor, topic_configs=e["config"])
                for t, e in topics.items()
            ]
        )
        for topic, entry in topics.items():
            for partition in range(entry["partitions"]):
                futures = []
                originals = []
                for r in records(tar, topic, partition):
                    futures.append(
                        await producer.send(
                            names[topic], r.value, r.key, partition, r.timestamp, r.headers or None
                        )
                    )
                    originals.append(r.offset)
                results = await asyncio.gather(*futures)
                shifts = {o: m.offset for o, m in zip(originals, results, strict=True) if o != m.offset}
                if shifts:
                    moved[(topic, partition)] = dict(zip(originals, (m.offset for m in results), strict=True))
        await restore_groups(manifest, kafka, names, prefix, moved)
    finally:
        await producer.stop()
        await admin.close()
    return moved


def _translated(offset: int, mapping: dict[int, int] | None) -> int:
    """A committed offset (the next record to read) on a partition whose offsets moved."""
    if mapping is None:
        return offset
    later = [new for old, new in mapping.items() if old >= offset]
    return min(later) if later else (max(mapping.values()) + 1 if mapping else 0)


async def restore_groups(
    manifest: dict[str, Any],
    kafka: KafkaSettings,
    names: dict[str, str],
    prefix: str,
    moved: dict[tuple[str, int], dict[int, int]],
) -> None:
    for group, topics in manifest["kafka"]["groups"].items():
        offsets = {
            TopicPartition(names[t], int(p)): OffsetAndMetadata(_translated(o, moved.get((t, int(p)))), "")
            for t, parts in topics.items()
            if t in names
            for p, o in parts.items()
        }
        if not offsets:
            continue
        consumer = AIOKafkaConsumer(
            **kafka.client_options(), group_id=prefix + group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit(offsets)
        finally:
            await consumer.stop()


async def restore(archive: Path, database: str | None, prefix: str) -> None:
    kafka, mongo = KafkaSettings(), MongoSettings()
    if database:
        mongo = mongo.model_copy(update={"database": database})
    with tarfile.open(archive, "r:gz") as tar:
        manifest = read_manifest(tar)
        restore_database(tar, manifest, mongo)
        moved = await restore_topics(tar, manifest, kafka, mongo.database, prefix)
    for (topic, partition), mapping in moved.items():
        say(f"restore: offsets of {topic}[{partition}] moved (a compacted or trimmed log): {len(mapping)}")
    say(f"restore: {archive.name} -> database {mongo.database}, topics {prefix or '(same names)'}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.backup", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="write a backup archive")
    c.add_argument("--out", type=Path, default=ROOT / "var" / "backups")
    c.add_argument(
        "--topics", default=r"(?!__).*", help="regex of topic names (default: all but Kafka's own)"
    )
    r = sub.add_parser("restore", help="restore an archive into an empty database and absent topics")
    r.add_argument("archive", type=Path)
    r.add_argument("--database", help="restore into this database (default: MONGO_DATABASE's)")
    r.add_argument("--prefix", default="", help="put before every topic and consumer group name")
    args = parser.parse_args()
    if args.command == "create":
        args.out.mkdir(parents=True, exist_ok=True)
        asyncio.run(create(args.out, args.topics))
    else:
        asyncio.run(restore(args.archive, args.database, args.prefix))


if __name__ == "__main__":
    main()
