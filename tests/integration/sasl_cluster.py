"""A three-broker copy of the system that requires logins (deploy/local/stack.py with
STACK_INSTANCE=saslcheck and KAFKA_BROKERS=3: var/instances/saslcheck, every port 400 up, apart
from the test (+200), bench (+300) and fault (+100) copies), with the clients its users make."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from shared.kafka import partitions_of
from shared.settings import KafkaSettings
from tests.conftest import ROOT, load_stack

PY = str(ROOT / ".venv" / "bin" / "python")
INSTANCE, PORT_OFFSET = "saslcheck", 400
ENV = {"STACK_INSTANCE": INSTANCE, "STACK_PORT_OFFSET": str(PORT_OFFSET), "KAFKA_BROKERS": "3"}
PROCESSES = ("kafka-1", "kafka-2", "kafka-3", "ferretdb", "scoring-worker", "scoring-api", "volunteer")
LAYOUT = load_stack().Layout(INSTANCE, 3, PORT_OFFSET)
_BY_NAME = {p.name: p for p in load_stack().processes(LAYOUT)}
URLS = {"scoring": _BY_NAME["scoring-api"].url, "volunteer": _BY_NAME["volunteer"].url}
BOOTSTRAP = LAYOUT.bootstrap_servers


def stack(*args: str, timeout_s: float = 300) -> str:
    """deploy/local/stack.py ARGS... on this copy; its standard output."""
    done = subprocess.run(
        [PY, "deploy/local/stack.py", *args],
        cwd=ROOT,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, f"stack.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@contextmanager
def running() -> Iterator[None]:
    """The copy, made afresh and started; destroyed afterwards whatever happened."""
    try:
        stack("destroy", timeout_s=180)  # whatever an earlier run left
        stack("up", *PROCESSES, timeout_s=480)
        yield
    finally:
        stack("destroy", timeout_s=180)


def password(user: str) -> str:
    """A user's password, from the users file the copy made when it formatted its cluster."""
    return str(load_stack().read_env(LAYOUT.kafka_users)[user])


def login(user: str, secret: str | None = None) -> KafkaSettings:
    """The settings a client of `user` runs with (its own password unless `secret`), as a service
    of the copy gets them."""
    return KafkaSettings(
        bootstrap_servers=BOOTSTRAP,
        security_protocol="SASL_PLAINTEXT",
        sasl_username=user,
        sasl_password=SecretStr(password(user) if secret is None else secret),
    )


async def produce(kafka: KafkaSettings, topic: str, key: bytes, value: bytes) -> int:
    """Write one record as `kafka` logs in; its offset."""
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    try:
        await producer.start()
        return (await producer.send_and_wait(topic, value, key=key)).offset
    finally:
        await producer.stop()


async def keys(kafka: KafkaSettings, topic: str) -> set[bytes]:
    """The keys of every record of `topic` now, read as `kafka` logs in."""
    tps = await partitions_of(kafka, [topic])
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: set[bytes] = set()
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found |= {r.key for r in records if r.key is not None}
        return found
    finally:
        await consumer.stop()
