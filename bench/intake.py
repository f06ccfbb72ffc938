"""Figure 4, intake: the p99 of single posts to one intake service at a fixed offered rate (open
loop, timed from each post's scheduled start) and the highest rate whose p99 stays within target;
records accepted (202) per second with batch posts, against a bare producer (idempotent, acks=all,
linger 2 ms, like shared.kafka.KafkaPublisher) sending the same envelopes onto the bench topic."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import orjson

from bench.config import BENCH_TOPIC, BOOTSTRAP, INTAKE, RESOURCES, Sizes, Tokens
from bench.dataset import BenchCity, envelope, sample
from bench.http1 import Pool, encode
from bench.load import Send, ladder, needed, open_loop
from bench.topics import ensure_bench_topic

TARGET_MS = 50  # of a single post's p99


def _url(stream: str, batch: bool = False) -> str:
    return f"http://127.0.0.1:{INTAKE[stream]}/v1/{RESOURCES[stream]}{':batch' if batch else ''}"


async def single_posts(records: list[dict], stream: str, sizes: Sizes, token: str) -> dict:
    """Single posts, open loop: `sizes.intake_rate` per second for `sizes.intake_seconds` (the p99
    figure), then the ladder of rates up to the first whose p99 is over 50 ms (the max figure).
    Every post carries a record of its own."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url, bound = _url(stream), sizes.max_outstanding
    posts = [encode("POST", url, headers, orjson.dumps(r)) for r in records]  # before the clock starts
    pool = Pool(url)

    def sender(first: int) -> Send:
        return lambda i: pool.request(posts[first + i])

    try:
        fixed = await open_loop(sender(0), sizes.intake_rate, sizes.intake_seconds, max_outstanding=bound)
        print(f"    {sizes.intake_rate:>6,}/s: p99 {fixed['p99_ms']} ms, {fixed['statuses']}", flush=True)
        print(f"  ladder of rates, {sizes.ladder_seconds} s each", flush=True)
        rest = sender(fixed["sent"])
        steps = await ladder(rest, sizes.ladder, sizes.ladder_seconds, TARGET_MS, max_outstanding=bound)
    finally:
        pool.close()
    return {
        "intake_single_p99_ms": fixed["p99_ms"],
        "intake_single_max_eps": steps["max_rps"],
        "fixed": fixed,
        "ladder": steps,
        "connections": pool.opened,
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
    count = round(sizes.intake_rate * sizes.intake_seconds) + needed(sizes.ladder, sizes.ladder_seconds)
    ones = [r for _, r in sample(city, count, f"{city.prefix}{run}s", (stream,))]
    many = [r for _, r in sample(city, sizes.intake_batches * 500, f"{city.prefix}{run}b", (stream,))]
    rate, seconds = sizes.intake_rate, sizes.intake_seconds
    print(f"  single posts, open loop: {rate}/s for {seconds} s to {stream}", flush=True)
    single = await single_posts(ones, stream, sizes, tokens.writer)
    print(f"  batch posts: {len(many):,} records, {sizes.batch_clients} batches in flight", flush=True)
    batch = await batch_posts(many, stream, sizes.batch_clients, tokens.writer, sizes.intake_cap)
    print(f"  bare producer: the same {len(many):,} envelopes onto {BENCH_TOPIC}", flush=True)
    raw = await raw_produce(many, stream)
    return {"stream": stream, "single": single, "batch": batch, "raw": raw}
