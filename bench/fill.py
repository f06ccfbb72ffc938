"""Fill the event topics with the bench year through a bare producer, keyed by branch id as the
intake services publish. Idempotent: a marker in var/bench names the last record written, and a
later run checks that the log still holds it (then it only adds what a larger size needs)."""

import asyncio
import json
import time
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.config import BOOTSTRAP, OUT
from bench.dataset import BenchCity, envelope, sample
from shared.contracts import TOPICS, Stream

CHUNK = 5_000


def fill_prefix(city: BenchCity) -> str:
    return f"{city.prefix}fill"


def producer() -> AIOKafkaProducer:
    """Like shared.kafka.KafkaPublisher's producer (idempotent, acks=all), with larger batches."""
    return AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=262_144
    )


async def holds(last: dict) -> bool:
    """Whether the log still holds the record the marker names (a wiped broker does not)."""
    tp = TopicPartition(last["topic"], last["partition"])
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        if (await consumer.end_offsets([tp]))[tp] <= last["offset"]:
            return False
        consumer.seek(tp, last["offset"])
        record = await asyncio.wait_for(consumer.getone(tp), 10)
        return bool(orjson.loads(record.value)["id"] == last["id"])
    finally:
        await consumer.stop()


async def fill(city: BenchCity, count: int) -> dict:
    """Make the log hold the first `count` bench records; what was done."""
    marker_path = OUT / f"fill-{city.prefix.rstrip('-')}.json"
    marker = json.loads(marker_path.read_text()) if marker_path.exists() else {}
    done = marker.get("records", 0) if marker and await holds(marker["last"]) else 0
    if done >= count:
        print(f"  fill: the log holds the {done:,} bench records already (marker {marker_path.name})")
        return {"written": 0, "records": done, "seconds": 0.0}
    print(f"  fill: writing records {done + 1:,} to {count:,} onto the event topics", flush=True)
    began, accepted_at = time.monotonic(), datetime.now(UTC)
    records = sample(city, count, fill_prefix(city))
    kafka = producer()
    await kafka.start()
    try:
        pending, last, written = [], None, 0
        for n, (stream, record) in enumerate(records, start=1):
            if n <= done:
                continue
            key, value = envelope(stream, record, accepted_at)
            future = await kafka.send(TOPICS[Stream(stream)].name, value=value, key=key.encode())
            pending.append((record["id"], future))
            if len(pending) >= CHUNK or n == count:
                metas = await asyncio.gather(*(f for _, f in pending))
                last, written = (pending[-1][0], metas[-1]), written + len(pending)
                pending = []
                if written % (CHUNK * 10) == 0 or n == count:
                    rate = written / (time.monotonic() - began)
                    print(f"    {n:,}/{count:,} ({rate:,.0f}/s)", flush=True)
    finally:
        await kafka.stop()
    assert last is not None
    record_id, meta = last
    marker = {
        "records": count,
        "written_at": datetime.now(UTC).isoformat(),
        "last": {"topic": meta.topic, "partition": meta.partition, "offset": meta.offset, "id": record_id},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    marker_path.write_text(json.dumps(marker, indent=2))
    return {"written": written, "records": count, "seconds": round(time.monotonic() - began, 1)}
