"""Figure 2, Python's ceiling: a bare aiokafka consumer that reads every event topic from the
beginning to the end offsets it found at the start and JSON-decodes each value (orjson)."""

import time

import orjson
from aiokafka import AIOKafkaConsumer

from bench.config import BOOTSTRAP, EVENT_TOPICS
from bench.topics import sizes


async def raw_consume() -> dict:
    """Records per second, and the average value size (what ProducerPerformance then writes)."""
    spans = {tp: span for tp, span in (await sizes(EVENT_TOPICS)).items() if span[1] > span[0]}
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        began = time.monotonic()
        consumer.assign(list(spans))
        for tp, (start, _) in spans.items():
            consumer.seek(tp, start)
        remaining = {tp: end for tp, (_, end) in spans.items()}
        records = value_bytes = undecodable = 0
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, messages in batch.items():
                end = remaining.get(tp)
                for m in messages:
                    if end is None or m.offset >= end:
                        continue
                    try:
                        orjson.loads(m.value or b"")
                    except orjson.JSONDecodeError:
                        undecodable += 1  # poison records of the fault tests: decoded all the same
                    records += 1
                    value_bytes += len(m.value or b"")
                if end is not None and messages and messages[-1].offset >= end - 1:
                    del remaining[tp]
        seconds = time.monotonic() - began
    finally:
        await consumer.stop()
    return {
        "raw_consume_eps": round(records / seconds),
        "records": records,
        "seconds": round(seconds, 2),
        "avg_value_bytes": round(value_bytes / max(records, 1)),
        "undecodable": undecodable,
    }
