"""Figure 4, intake: records accepted (202) per second by one intake service with single posts
from many concurrent clients and with batch posts, against a bare producer (idempotent, acks=all,
linger 2 ms, like shared.kafka.KafkaPublisher) sending the same envelopes onto the bench topic."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp

from bench.config import BENCH_TOPIC, BOOTSTRAP, INTAKE, RESOURCES, Sizes, Tokens
from bench.dataset import BenchCity, envelope, sample
from bench.stats import summary_ms
from bench.topics import ensure_bench_topic


def _url(stream: str, batch: bool = False) -> str:
    return f"http://127.0.0.1:{INTAKE[stream]}/v1/{RESOURCES[stream]}{':batch' if batch else ''}"


async def single_posts(records: list[dict], stream: str, clients: int, token: str, cap_s: float) -> dict:
    """Each client posts one record at a time (for at most `cap_s`); latency of every 202, statuses
    of the rest."""
    headers, todo = {"Authorization": f"Bearer {token}"}, list(reversed(records))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def client() -> None:
            while todo and time.monotonic() < stop_at:
                record, sent = todo.pop(), time.monotonic()
                async with session.post(_url(stream), json=record, headers=headers) as r:
                    await r.read()
                statuses[r.status] += 1
                if r.status == 202:
                    latencies.append(time.monotonic() - sent)

        began = time.monotonic()
        stop_at = began + cap_s
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.monotonic() - began
    p = summary_ms(latencies)
    return {
        "intake_single_eps": round(len(latencies) / seconds),
        "intake_single_p99_ms": p["p99_ms"],
        "latency": p,
        "statuses": dict(statuses),
        "seconds": round(seconds, 1),
    }


async def batch_posts(records: list[dict], stream: str, clients: int, token: str, cap_s: float) -> dict:
    """Batches of 500, `clients` in flight at once (for at most `cap_s`): accepted items per second."""
    headers = {"Authorization": f"Bearer {token}"}
    todo = [records[i : i + 500] for i in range(0, len(records), 500)][::-1]
    accepted, statuses = 0, Counter[int]()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def client() -> None:
            nonlocal accepted
            while todo and time.monotonic() < stop_at:
                async with session.post(_url(stream, True), json={"items": todo.pop()}, headers=headers) as r:
                    body = await r.json()
                statuses[r.status] += 1
                accepted += body.get("accepted", 0) if isinstance(body, dict) else 0

        began = time.monotonic()
        stop_at = began + cap_s
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.monotonic() - began
    return {
        "intake_batch_eps": round(accepted / seconds),
        "accepted": accepted,
        "statuses": dict(statuses),
        "seconds": round(seconds, 1),
    }


async def raw_produce(records: list[dict], stream: str) -> dict:
    """The same envelopes (built before the clock starts) through a bare producer, 5,000 in flight."""
    from aiokafka import AIOKafkaProducer

    await ensure_bench_topic()
    now = datetime.now(UTC)
    envelopes = [envelope(stream, r, now) for r in records]
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all", linger_ms=2)
    await producer.start()
    try:
        began = time.monotonic()
        for i in range(0, len(envelopes), 5_000):
            futures = [
                await producer.send(BENCH_TOPIC, value=v, key=k.encode()) for k, v in envelopes[i : i + 5_000]
            ]
            await asyncio.gather(*futures)
        seconds = time.monotonic() - began
    finally:
        await producer.stop()
    return {
        "raw_produce_eps": round(len(envelopes) / seconds),
        "records": len(envelopes),
        "seconds": round(seconds, 2),
    }


async def intake(city: BenchCity, sizes: Sizes, tokens: Tokens, run: str) -> dict:
    """Single posts, then batch posts, then the bare producer; new record ids on every run."""
    stream = sizes.intake_stream
    ones = [r for _, r in sample(city, sizes.intake_single, f"{city.prefix}{run}s", (stream,))]
    many = [r for _, r in sample(city, sizes.intake_batches * 500, f"{city.prefix}{run}b", (stream,))]
    print(f"  single posts: {len(ones):,} {stream} records, {sizes.intake_clients} clients", flush=True)
    single = await single_posts(ones, stream, sizes.intake_clients, tokens.writer, sizes.intake_cap)
    print(f"  batch posts: {len(many):,} records, {sizes.batch_clients} batches in flight", flush=True)
    batch = await batch_posts(many, stream, sizes.batch_clients, tokens.writer, sizes.intake_cap)
    print(f"  bare producer: the same {len(many):,} envelopes onto {BENCH_TOPIC}", flush=True)
    raw = await raw_produce(many, stream)
    return {"stream": stream, "single": single, "batch": batch, "raw": raw}
