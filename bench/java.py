"""Figure 1, the broker's ceiling: Kafka's own ConsumerPerformance over the event topics and
ProducerPerformance onto the bench topic, from the jars in var/kafka/libs."""

import re
import subprocess
import uuid

from bench.config import BENCH_TOPIC, BOOTSTRAP, KAFKA_LIBS
from bench.topics import ensure_bench_topic, records_per_topic

HEAP = "-Xmx512m"


def _java(tool: str, *args: str, timeout_s: float = 900) -> str:
    command = ["java", HEAP, "-cp", f"{KAFKA_LIBS}/*", f"org.apache.kafka.tools.{tool}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def consume_topic(topic: str, messages: int) -> dict:
    """One topic from its beginning with a fresh group; the fetch time excludes the group join."""
    out = _java(
        "ConsumerPerformance",
        *("--bootstrap-server", BOOTSTRAP, "--topic", topic, "--messages", str(messages)),
        *("--group", f"bench-java-{uuid.uuid4().hex[:12]}", "--timeout", "30000"),
    )
    lines = [ln for ln in out.splitlines() if ln.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    row = dict(zip(header, (v.strip() for v in lines[-1].split(",")), strict=True))
    return {
        "records": int(row["data.consumed.in.nMsg"]),
        "fetch_ms": int(row["fetch.time.ms"]),
        "rebalance_ms": int(row["rebalance.time.ms"]),
        "MB": float(row["data.consumed.in.MB"]),
    }


async def java_consume() -> dict:
    """All event topics one after another: records over the summed fetch time."""
    per_topic = {t: consume_topic(t, n) for t, n in (await records_per_topic()).items() if n}
    records = sum(r["records"] for r in per_topic.values())
    fetch_s = sum(r["fetch_ms"] for r in per_topic.values()) / 1000
    return {"java_consume_eps": round(records / fetch_s), "records": records, "topics": per_topic}


async def java_produce(records: int, record_size: int) -> dict:
    """`records` records of `record_size` bytes onto the bench topic, idempotent and acks=all."""
    partitions = await ensure_bench_topic()
    out = _java(
        "ProducerPerformance",
        *("--topic", BENCH_TOPIC, "--num-records", str(records), "--record-size", str(record_size)),
        *("--throughput", "-1", "--producer-props", f"bootstrap.servers={BOOTSTRAP}", "acks=all"),
        "enable.idempotence=true",
    )
    final = [ln for ln in out.splitlines() if "records sent" in ln][-1]
    eps = float(re.search(r"([\d.]+) records/sec", final).group(1))  # type: ignore[union-attr]
    return {
        "java_produce_eps": round(eps),
        "records": records,
        "record_size": record_size,
        "partitions": partitions,
        "summary": final.strip(),
    }
