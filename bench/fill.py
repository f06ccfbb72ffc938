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
from bench.dataset import YEAR, BenchCity, envelope, sample
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


async def fill(city: BenchCity, count: int, history_years: int = 0) -> dict:
    """Make the log hold the first `count` bench records of the bench year, and as many of each
    of the `history_years` years before it (measuring on a city with a past); what was done."""
    done = {YEAR: await fill_year(city, count, YEAR)}
    for year in (str(int(YEAR) - n) for n in range(1, history_years + 1)):
        done[year] = await fill_year(city, count, year)
    return {
        "written": sum(d["written"] for d in done.values()),
        "records": sum(d["records"] for d in done.values()),
        "seconds": round(sum(d["seconds"] for d in done.values()), 1),
        "years": done,
    }


async def fill_year(city: BenchCity, count: int, year: str) -> dict:
    """Make the log hold the first `count` bench records of `year`; what was done."""
    suffix = "" if year == YEAR else f"-{year}"
    marker_path = OUT / f"fill-{city.prefix.rstrip('-')}{suffix}.json"
    marker = json.loads(marker_path.read_text()) if marker_path.exists() else {}
    done = marker.get("records", 0) if marker and await holds(marker["last"]) else 0
    if done >= count:
        print(f"  fill: the log holds the {done:,} bench records of {year} already ({marker_path.name})")
        return {"written": 0, "records": done, "seconds": 0.0}
    print(f"  fill: writing records {done + 1:,} to {count:,} of {year} onto the event topics", flush=True)
    began, accepted_at = time.monotonic(), datetime.now(UTC)
    records = sample(city, count, fill_prefix(city) + suffix, year=year)
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
