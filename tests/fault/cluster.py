"""A copy of the system on a three-broker Kafka cluster, beside the default stack the other tests
use: deploy/local/stack.py with STACK_INSTANCE=fault and KAFKA_BROKERS=3 (var/instances/fault,
every port 100 up), its own FerretDB, scoring worker, scoring API and volunteer intake."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.conftest import ROOT, load_stack

PY = str(ROOT / ".venv" / "bin" / "python")
INSTANCE, PORT_OFFSET = "fault", 100
ENV = {"STACK_INSTANCE": INSTANCE, "STACK_PORT_OFFSET": str(PORT_OFFSET), "KAFKA_BROKERS": "3"}
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
# One intake service carries the load: fewer processes on a machine the default stack shares.
PROCESSES = (*BROKERS, "ferretdb", "scoring-worker", "scoring-api", "volunteer")
_LAYOUT = load_stack().Layout(INSTANCE, 3, PORT_OFFSET)
_BY_NAME = {p.name: p for p in load_stack().processes(_LAYOUT)}
URLS = {
    "scoring": _BY_NAME["scoring-api"].url,
    "worker": _BY_NAME["scoring-worker"].url,
    "volunteer": _BY_NAME["volunteer"].url,
}
BOOTSTRAP = _LAYOUT.bootstrap_servers
NODE_IDS = {n.name: n.node_id for n in _LAYOUT.kafka_nodes()}
LOG = _LAYOUT.log


def stack(action: str, *names: str, timeout_s: float = 240) -> None:
    """deploy/local/stack.py ACTION NAME... on this copy (`up` returns once each is ready)."""
    done = subprocess.run(
        [PY, "deploy/local/stack.py", action, *names],
        cwd=ROOT,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, f"stack.py {action} {' '.join(names)} failed:\n{done.stdout}{done.stderr}"


@contextmanager
def running() -> Iterator[float]:
    """The copy is up, freshly made, inside, and stopped afterwards whatever happened; gives the
    seconds its start took."""
    began = time.monotonic()
    try:
        # A fresh cluster and database each run: what an earlier run (or older code) left is gone.
        stack("down", timeout_s=180)
        assert _LAYOUT.state.is_relative_to(ROOT / "var" / "instances"), _LAYOUT.state
        shutil.rmtree(_LAYOUT.state, ignore_errors=True)
        stack("up", *PROCESSES)
        yield round(time.monotonic() - began, 1)
    finally:
        stack("down", timeout_s=180)


@dataclass(frozen=True)
class TopicLayout:
    """How the cluster keeps one topic: replicas per partition, the topic's min ISR, the leaders."""

    replicas: set[int]
    min_insync: str | None
    leaders: list[int]


async def topics() -> dict[str, TopicLayout]:
    """Every topic of the cluster as its brokers describe it."""
    # The cluster lets in only its users (deploy/local/stack.py): its admin describes every topic.
    login = _LAYOUT.kafka_login("admin")
    admin = AIOKafkaAdminClient(
        bootstrap_servers=BOOTSTRAP,
        request_timeout_ms=10_000,
        security_protocol=login["KAFKA_SECURITY_PROTOCOL"],
        sasl_mechanism=login["KAFKA_SASL_MECHANISM"],
        sasl_plain_username=login["KAFKA_SASL_USERNAME"],
        sasl_plain_password=login["KAFKA_SASL_PASSWORD"],
    )
    await admin.start()
    try:
        names = sorted(await admin.list_topics())
        described = await admin.describe_topics(names)
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    min_isr = {
        resource[3]: entry[1]
        for answer in answers
        for resource in answer.resources
        for entry in resource[4]
        if entry[0] == "min.insync.replicas"
    }
    return {
        d["topic"]: TopicLayout(
            {len(p["replicas"]) for p in d["partitions"]},
            min_isr.get(d["topic"]),
            sorted(p["leader"] for p in d["partitions"]),
        )
        for d in described
    }


def active_controller() -> str | None:
    """The node leading the KRaft controller quorum now: the one whose latest quorum transition,
    in its own log, made it the leader (None if no log says so)."""
    for name in BROKERS:
        log = (LOG / f"{name}.log").read_text(errors="replace").splitlines()
        transitions = [line for line in log if "[RaftManager" in line and "Completed transition to" in line]
        if transitions and "Completed transition to Leader(" in transitions[-1]:
            return name
    return None
