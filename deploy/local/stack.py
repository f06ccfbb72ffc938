"""Starts, checks and stops the local system (Kafka, FerretDB, the services, Prometheus) without Docker.

`python deploy/local/stack.py up [NAME ...]` starts what is not running and waits until each is
ready; `down [NAME ...]` stops; `kill NAME ...` SIGKILLs, as a crash would (fault tests);
`status` lists. Pid files: var/run/<name>.pid, logs: var/log/<name>.log.
KAFKA_BROKERS=3 runs a three-broker KRaft cluster (kafka-1, kafka-2, kafka-3) instead of the one
broker (kafka), with its own Kafka log and database under var/cluster; the cluster lets in only
its SCRAM users (one per service, made when it is formatted; `kafka-producer NAME` adds a trusted
producer) and ACLs (tools/kafka_access) say what each may do. STACK_INSTANCE=NAME runs
another copy of the system beside the default one, in var/instances/NAME, every port moved up by
STACK_PORT_OFFSET (default: 200 for test, 300 for bench, 100 for any other name); without
Prometheus, whose configuration names the default ports. `destroy` stops such a copy and deletes
its directory; `run -- COMMAND...` starts the copy, runs COMMAND told which copy it is, and then
destroys it (unless KEEP=1, or it is the default copy), keeping COMMAND's exit status: what
`make test` and `make bench` do.
The commands here are the ones docker-compose.yml runs (tests/unit/test_compose.py checks that).
"""

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
PY = str(ROOT / ".venv" / "bin" / "python")
DEV_ENV = ROOT / "deploy" / "local" / "dev.env"
KAFKA_LIBS = VAR / "kafka" / "libs"  # one copy of the broker's jars for every instance
BROKER_COUNTS = (1, 3)
STACK_CLI = ".venv/bin/python deploy/local/stack.py"
# Where the copies `make test`, `make bench` and the fault suite's cluster run: apart from each other,
# so a benchmark and a test run (or a kept copy) can be up at once. Any other copy: 100.
PORT_OFFSETS = {"fault": 100, "test": 200, "bench": 300}
# The cluster's logins: the brokers' and operators' own user (above the ACLs), and the mechanism.
KAFKA_ADMIN, SCRAM = "admin", "SCRAM-SHA-512"
PRODUCER_PREFIX = "producer-"  # trusted producers' users (tools/kafka_access/grants.py)


@dataclass(frozen=True)
class Process:
    """One process of the system: how to start it and how to know it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    url: str
    deadline_s: float = 60
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node (broker and controller in one process) and where it keeps its log."""

    name: str
    node_id: int
    port: int
    controller_port: int
    home: Path


@dataclass(frozen=True)
class Layout:
    """One copy of the system: its directories, its ports and its number of Kafka brokers."""

    instance: str = ""  # "": the default copy, in var/ on the documented ports
    brokers: int = 1
    port_offset: int = 0

    @property
    def home(self) -> Path:
        return VAR / "instances" / self.instance if self.instance else VAR

    @property
    def state(self) -> Path:
        # Kafka's log and the scores built from its offsets belong together: a ledger remembers the
        # offsets it applied, so a cluster with a fresh log gets a database of its own as well.
        return self.home if self.brokers == 1 else self.home / "cluster"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def log(self) -> Path:
        return self.home / "log"

    def port(self, default: int) -> int:
        return default + self.port_offset

    def kafka_nodes(self) -> list[KafkaNode]:
        if self.brokers == 1:
            return [KafkaNode("kafka", 1, self.port(9092), self.port(9093), self.state / "kafka")]
        return [
            KafkaNode(
                f"kafka-{i}",
                i,
                self.port(9092 + 2 * (i - 1)),
                self.port(9093 + 2 * (i - 1)),
                self.state / "kafka" / f"node-{i}",
            )
            for i in range(1, self.brokers + 1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.kafka_nodes())

    def service_env(self) -> dict[str, str]:
        """What the services of this copy are told beyond dev.env (nothing, for the default)."""
        if self == Layout():
            return {}
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "SCORING_WORKER_DATADIR": str(self.state / "faust"),
        }
        if self.brokers > 1:
            env |= {"KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2"}
        if self.port_offset:
            env |= {
                "MONGO_URL": f"mongodb://127.0.0.1:{self.port(27017)}/",
                "SCORING_WORKER_WEB_PORT": str(self.port(8010)),
                "SCORING_API_PORT": str(self.port(8000)),
                "VOLUNTEER_PORT": str(self.port(8001)),
                "LIAISON_PORT": str(self.port(8002)),
                "TRAINING_PORT": str(self.port(8003)),
            }
        return env

    @property
    def kafka_users(self) -> Path:
        """The cluster's SCRAM users and their passwords (dev.env style; never committed), written
        when the cluster is formatted: they live as long as its log."""
        return self.state / "kafka" / "users.env"

    def kafka_login(self, user: str) -> dict[str, str]:
        """The KAFKA_* settings that log `user` in to this copy's brokers; nothing for one broker
        (no logins there) or a process without a user of its own."""
        password = read_env(self.kafka_users).get(user) if self.brokers > 1 else None
        if password is None:
            return {}
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": SCRAM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": password,
        }

    def client_env(self) -> dict[str, str]:
        """What a client of this copy is told (a test, a tool, a worker it starts of its own): where
        its brokers and database are, not which ports its services listen on."""
        return {k: v for k, v in self.service_env().items() if k.startswith("KAFKA_") or k in CLIENT_KEYS}


CLIENT_KEYS = ("MONGO_URL", "SCORING_WORKER_DATADIR")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback URL of our own)
                return bool(r.status == 200)
        except OSError:
            return False

    return check


def kafka_ready(node: KafkaNode, layout: Layout) -> Callable[[], bool]:
    """A metadata request to this broker succeeds and lists it (registered, unfenced, in a quorum);
    on a cluster, as its admin user."""

    def check() -> bool:
        import logging

        from aiokafka import AIOKafkaClient

        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "connection refused" while it starts

        async def probe() -> bool:
            login = layout.kafka_login(KAFKA_ADMIN)
            sasl = (
                {
                    "security_protocol": "SASL_PLAINTEXT",
                    "sasl_mechanism": SCRAM,
                    "sasl_plain_username": KAFKA_ADMIN,
                    "sasl_plain_password": login["KAFKA_SASL_PASSWORD"],
                }
                if login
                else {}
            )
            client = AIOKafkaClient(
                bootstrap_servers=f"127.0.0.1:{node.port}", request_timeout_ms=3000, **sasl
            )
            try:
                await client.bootstrap()
                return any(b.nodeId == node.node_id for b in client.cluster.brokers())
            except Exception:
                return False
            finally:
                await client.close()

        return asyncio.run(probe())

    return check


def mongo_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient = MongoClient(url, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()

    return check


def kafka_process(layout: Layout, node: KafkaNode) -> Process:
    # Three brokers share the machine with everything else: a smaller heap each.
    heap = (
        ["-Xmx512m", "-Xms256m"]
        if layout.brokers == 1
        else ["-Xmx384m", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
    )
    return Process(
        node.name,
        [
            "java",
            *heap,
            "-cp",
            f"{KAFKA_LIBS}/*",
            f"-Dlog4j2.configurationFile={ROOT}/deploy/kafka/log4j2.properties",
            "kafka.Kafka",
            str(node.home / "server.properties"),
        ],
        kafka_ready(node, layout),
        f"kafka://127.0.0.1:{node.port}",
        deadline_s=90,
    )


def processes(layout: Layout) -> list[Process]:
    """Every process of one copy of the system, in the order they start."""
    env = layout.service_env()

    def service(name: str, args: list[str], port: int) -> Process:
        port = layout.port(port)
        url = f"http://127.0.0.1:{port}"
        return Process(name, [PY, "-m", *args], http_ok(f"{url}/readyz"), url, env=env)

    mongo_port = layout.port(27017)
    found = [kafka_process(layout, node) for node in layout.kafka_nodes()]
    found += [
        Process(
            "ferretdb",
            [
                str(VAR / "bin" / "ferretdb-local"),
                "--listen-addr",
                f"127.0.0.1:{mongo_port}",
                "--data-dir",
                str(layout.state / "ferretdb"),
                "--log-level",
                "error",  # warn would log every client's unsupported endSessions
            ],
            mongo_ready(f"mongodb://127.0.0.1:{mongo_port}/"),
            f"mongodb://127.0.0.1:{mongo_port}/",
        ),
        service("scoring-worker", ["services.scoring", "worker", "-l", "info"], 8010),
        service("scoring-api", ["services.scoring", "api"], 8000),
        service("volunteer", ["services.volunteer"], 8001),
        service("liaison", ["services.liaison"], 8002),
        service("training", ["services.training"], 8003),
    ]
    if not layout.port_offset:
        # Scrapes everything above and evaluates deploy/prometheus/alerts.yml (Debian's prometheus
        # package, installed by provision.sh). Absolute paths: `leftovers` finds it by this checkout.
        found.append(
            Process(
                "prometheus",
                [
                    "prometheus",
                    f"--storage.tsdb.path={VAR / 'prometheus'}",
                    "--storage.tsdb.retention.time=2d",
                    "--web.listen-address=127.0.0.1:9090",
                    f"--config.file={ROOT / 'deploy' / 'prometheus' / 'prometheus.local.yml'}",
                ],
                http_ok("http://127.0.0.1:9090/-/ready"),
                "http://127.0.0.1:9090",
            )
        )
    return found


# The default copy with one broker: what `make up` runs and docker-compose.yml mirrors.
PROCESSES = processes(Layout())
BY_NAME = {p.name: p for p in PROCESSES}


def dev_env() -> dict[str, str]:
    """deploy/local/dev.env as a dict (KEY=VALUE lines; # comments)."""
    return read_env(DEV_ENV)


def read_env(path: Path) -> dict[str, str]:
    """A KEY=VALUE file (# comments) as a dict; empty if there is no such file."""
    env = {}
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)


def _running_brokers(home: Path) -> int | None:
    """The broker count this copy was started with, while any of its processes runs (from the
    count `up` wrote, else from which brokers' pid files name a live process)."""
    run = home / "run"
    live = set()
    for pid_file in run.glob("*.pid"):
        try:
            if _alive(int(pid_file.read_text())):
                live.add(pid_file.stem)
        except (OSError, ValueError):
            continue
    if not live:
        return None
    try:
        return int((run / "kafka-brokers").read_text())
    except (OSError, ValueError):
        pass
    if "kafka" in live:
        return 1
    return 3 if live & {"kafka-1", "kafka-2", "kafka-3"} else None


def _running_offset(home: Path) -> int | None:
    """The port offset this copy was started with, while any of its processes runs: a copy
    started with STACK_PORT_OFFSET is found again without it."""
    if _running_brokers(home) is None:
        return None
    try:
        return int((home / "run" / "port-offset").read_text())
    except (OSError, ValueError):
        return None


def layout_of(env: Mapping[str, str]) -> Layout:
    """The copy the environment names (STACK_INSTANCE, STACK_PORT_OFFSET, KAFKA_BROKERS); without
    KAFKA_BROKERS, a running copy keeps the broker count it was started with."""
    instance = env.get("STACK_INSTANCE", "")
    if instance and (not instance.replace("-", "").isalnum() or instance.startswith("-")):
        sys.exit(f"STACK_INSTANCE={instance!r}: letters, digits and dashes only")
    home = Layout(instance).home
    running_offset = _running_offset(home)
    default = PORT_OFFSETS.get(instance, 100) if instance else 0
    offset = int(env.get("STACK_PORT_OFFSET") or (default if running_offset is None else running_offset))
    running = _running_brokers(home)
    wanted = env.get("KAFKA_BROKERS")
    brokers = int(wanted) if wanted else (running or 1)
    if brokers not in BROKER_COUNTS:
        sys.exit(f"KAFKA_BROKERS={wanted}: one of {', '.join(map(str, BROKER_COUNTS))}")
    if running and running != brokers:
        sys.exit(f"this copy runs with {running} Kafka broker(s): stop it first (make down)")
    return Layout(instance, brokers, offset)


class Stack:
    """The processes of one copy of the system, started, checked and stopped by pid file."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.processes = processes(layout)
        self.by_name = {p.name: p for p in self.processes}
        self.nodes = {n.name: n for n in layout.kafka_nodes()}

    def pid_of(self, name: str) -> int | None:
        """The pid of a running process of ours, or None (stale pid files are removed)."""
        pid_file = self.layout.run / f"{name}.pid"
        try:
            pid = int(pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            pid_file.unlink(missing_ok=True)
            return None
        # Guard against a recycled pid: the process must still be running our command.
        if any(arg.encode() not in cmdline for arg in self.by_name[name].command):
            pid_file.unlink(missing_ok=True)
            return None
        return pid

    def prepare_kafka(self, nodes: list[KafkaNode]) -> None:
        """Write each node's server.properties and format its log directory once; every node of a
        cluster with the same cluster id (KRaft needs one). Formats run side by side."""
        id_file = self.layout.state / "kafka" / "cluster.id"
        scram = self.scram_users(nodes) if self.layout.brokers > 1 else []
        formats = []
        for node in nodes:
            data = node.home / "data"
            data.mkdir(parents=True, exist_ok=True)
            properties = node.home / "server.properties"
            properties.write_text(self.server_properties(node, data))
            if (data / "meta.properties").exists():
                continue
            if self.layout.brokers > 1 and id_file.exists():
                cluster_id = id_file.read_text().strip()
            else:
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
                if self.layout.brokers > 1:
                    id_file.write_text(cluster_id + "\n")
            command = [
                "java",
                "-cp",
                f"{KAFKA_LIBS}/*",
                f"-Dlog4j2.configurationFile={ROOT}/deploy/kafka/log4j2.properties",
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # one argument: an id may begin with "-" (base64url)
                "-c",
                str(properties),
                *scram,
            ]
            formats.append((command, subprocess.Popen(command, stdout=subprocess.DEVNULL)))
        for command, child in formats:
            if child.wait() != 0:
                raise subprocess.CalledProcessError(child.returncode, command)

    def scram_users(self, nodes: list[KafkaNode]) -> list[str]:
        """The cluster's users (the admin, one per service, the trusted producers) as the format
        tool's --add-scram arguments; their passwords made now if the cluster has none yet."""
        users = read_env(self.layout.kafka_users)
        if not users:
            if any((n.home / "data" / "meta.properties").exists() for n in nodes):
                sys.exit(
                    f"{self.layout.state.relative_to(ROOT)} was formatted without SCRAM users (before "
                    "the cluster required logins): remove that directory (its Kafka log and database)"
                )
            services = [p.name for p in self.processes if p.command[:2] == [PY, "-m"]]
            users = {name: secrets.token_urlsafe(24) for name in [KAFKA_ADMIN, *services]}
            write_users(self.layout.kafka_users, users)
        return [f"--add-scram={SCRAM}=[name={name},password={pw}]" for name, pw in users.items()]

    def server_properties(self, node: KafkaNode, data: Path) -> str:
        """deploy/kafka/server.properties (with cluster.properties and sasl.properties over it for a
        cluster) and this node's id, addresses and log directory."""
        settings = {}
        cluster = self.layout.brokers > 1
        sources = ["server.properties"] + (["cluster.properties", "sasl.properties"] if cluster else [])
        for source in sources:
            for line in (ROOT / "deploy" / "kafka" / source).read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    settings[key.strip()] = value.strip()
        client = "SASL_PLAINTEXT" if cluster else "PLAINTEXT"
        settings |= {
            "node.id": str(node.node_id),
            "controller.quorum.voters": ",".join(
                f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes.values()
            ),
            "listeners": f"{client}://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"{client}://127.0.0.1:{node.port}",
            "log.dirs": str(data),
        }
        password = read_env(self.layout.kafka_users).get(KAFKA_ADMIN)
        if cluster and password:  # the brokers' own login (sasl.properties), from the users file
            settings = {k: v.replace("@ADMIN_PASSWORD@", password) for k, v in settings.items()}
        header = (
            f"# Written by deploy/local/stack.py from deploy/kafka/{' and '.join(sources)}: edit those.\n"
        )
        return header + "".join(f"{key}={value}\n" for key, value in settings.items())

    def start(self, p: Process) -> subprocess.Popen:
        run, log = self.layout.run, self.layout.log
        run.mkdir(parents=True, exist_ok=True)
        log.mkdir(parents=True, exist_ok=True)
        if p.name in self.nodes:
            (run / "kafka-brokers").write_text(f"{self.layout.brokers}\n")
        (run / "port-offset").write_text(f"{self.layout.port_offset}\n")
        env = {**os.environ, **dev_env(), **p.env, **self.layout.kafka_login(p.name)}
        with open(log / f"{p.name}.log", "ab") as out:
            child = subprocess.Popen(
                p.command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        (run / f"{p.name}.pid").write_text(str(child.pid))
        return child

    def wait_ready(self, p: Process, child: subprocess.Popen) -> None:
        deadline = time.monotonic() + p.deadline_s
        while time.monotonic() < deadline and child.poll() is None:
            if p.ready():
                return
            time.sleep(0.3)
        log = self.layout.log / f"{p.name}.log"
        tail = log.read_text(errors="replace").splitlines()[-15:]
        state = (
            f"exited with {child.returncode}"
            if child.poll() is not None
            else f"not ready after {p.deadline_s:.0f}s"
        )
        sys.exit(f"{p.name} {state}; the end of {log.relative_to(ROOT)}:\n" + "\n".join(tail))

    def up(self, names: list[str]) -> None:
        todo = []
        for p in (self.by_name[n] for n in names):
            if self.pid_of(p.name) is not None:  # running: not restarted, even if a dependency is away
                print(f"  {p.name:15} already running  {p.url}")
            else:
                todo.append(p)
        # Two waves, each started at once and then waited for: the infrastructure (a cluster's nodes
        # must start together: one alone has no quorum, so it would never be ready), then the
        # services, which need only the infrastructure.
        infra = [p for p in todo if p.name in self.nodes or p.name == "ferretdb"]
        self.prepare_kafka([self.nodes[p.name] for p in infra if p.name in self.nodes])
        if any(p not in infra for p in todo):
            dev_issuer()
        services = [p for p in todo if p not in infra]
        for wave in (infra, services):
            if wave is services and services and self.layout.brokers > 1:
                self.grant_kafka()  # before any service logs in: what the registry says each may do
            began = time.monotonic()
            started = [(p, self.start(p)) for p in wave]
            for p, child in started:
                self.wait_ready(p, child)
                print(f"  {p.name:15} ready in {time.monotonic() - began:4.1f}s  {p.url}")

    def grant_kafka(self) -> None:
        """Create the cluster's ACLs (tools/kafka_access, generated from the topic registry, for the
        services and the trusted producers), logged in as its admin; existing ones stay."""
        producers = [u for u in read_env(self.layout.kafka_users) if u.startswith(PRODUCER_PREFIX)]
        env = {**os.environ, **dev_env(), **self.layout.service_env(), **self.layout.kafka_login(KAFKA_ADMIN)}
        # Its report on stderr: `kafka-producer` prints nothing but the settings on stdout.
        apply = [PY, "-m", "tools.kafka_access", "apply", *producers]
        subprocess.run(apply, cwd=ROOT, env=env, check=True, stdout=sys.stderr)

    def add_producer(self, name: str) -> dict[str, str]:
        """A trusted producer's SCRAM user (made, or kept if it exists) with write access to the
        event topics; returns the KAFKA_* settings it logs in with."""
        if self.layout.brokers == 1:
            sys.exit("the single broker takes no logins: kafka-producer is for KAFKA_BROKERS=3")
        if not name.startswith(PRODUCER_PREFIX) or not name.replace("-", "").isalnum():
            sys.exit(f"a trusted producer's name: {PRODUCER_PREFIX}<letters, digits, dashes>")
        users = read_env(self.layout.kafka_users)
        if KAFKA_ADMIN not in users:
            sys.exit("this cluster is not formatted yet: start it first (make up)")
        users.setdefault(name, secrets.token_urlsafe(24))
        admin = self.layout.kafka_users.with_name("admin.properties")
        admin.touch(mode=0o600)
        admin.write_text(
            "security.protocol=SASL_PLAINTEXT\n"
            f"sasl.mechanism={SCRAM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{KAFKA_ADMIN}" password="{users[KAFKA_ADMIN]}";\n'
        )
        try:
            subprocess.run(
                [
                    "java",
                    "-cp",
                    f"{KAFKA_LIBS}/*",
                    f"-Dlog4j2.configurationFile={ROOT}/deploy/kafka/log4j2.properties",
                    "kafka.admin.ConfigCommand",
                    f"--bootstrap-server={self.layout.bootstrap_servers}",
                    f"--command-config={admin}",
                    "--alter",
                    f"--add-config={SCRAM}=[password={users[name]}]",
                    "--entity-type=users",
                    f"--entity-name={name}",
                ],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        finally:
            admin.unlink(missing_ok=True)
        write_users(self.layout.kafka_users, users)
        self.grant_kafka()
        return {"KAFKA_BOOTSTRAP_SERVERS": self.layout.bootstrap_servers, **self.layout.kafka_login(name)}

    def _signal_and_wait(self, names: list[str], sig: signal.Signals, timeout_s: float) -> list[str]:
        """Signal process groups at once and wait (up to timeout_s) for them to go; returns the
        names of those that were running."""
        pids = {name: pid for name in names if (pid := self.pid_of(name)) is not None}
        for pid in pids.values():
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
            time.sleep(0.05)
        for name, pid in pids.items():
            if _alive(pid):  # ignored SIGTERM: stop it for good
                os.killpg(pid, signal.SIGKILL)
            (self.layout.run / f"{name}.pid").unlink(missing_ok=True)
        return list(pids)

    def stop(self, names: list[str], timeout_s: float = 20) -> list[str]:
        """SIGTERM: the services first, then the infrastructure they use. A cluster's nodes stop
        together: the last one left alone would wait for a quorum to grant its shutdown."""
        infra = {*self.nodes, "ferretdb"}
        services = [n for n in names if n not in infra]
        return self._signal_and_wait(services, signal.SIGTERM, timeout_s) + self._signal_and_wait(
            [n for n in names if n in infra], signal.SIGTERM, timeout_s
        )

    def kill(self, names: list[str], timeout_s: float = 10) -> list[str]:
        """SIGKILL process groups, as a crash would (fault tests); returns once they are gone."""
        return self._signal_and_wait(names, signal.SIGKILL, timeout_s)


def write_users(path: Path, users: Mapping[str, str]) -> None:
    """The cluster's users file, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        f"# {SCRAM} users of this Kafka cluster and their passwords, written by deploy/local/stack.py\n"
        "# (never commit); `stack.py kafka-producer NAME` adds a trusted producer.\n"
        + "".join(f"{user}={password}\n" for user, password in users.items())
    )


def destroy(stack: Stack) -> None:
    """Stop every process of a named copy and delete its directory (its data, logs, pid files)."""
    home = stack.layout.home
    if not stack.layout.instance or home.parent != VAR / "instances":
        sys.exit("destroy removes a copy STACK_INSTANCE names; the default copy is only stopped (make down)")
    for name in stack.stop(list(reversed([p.name for p in stack.processes]))):
        print(f"  {name:15} stopped")
    if home.exists():
        shutil.rmtree(home, ignore_errors=True)
        print(f"  removed {home.relative_to(ROOT)}")


def run(stack: Stack, command: list[str], keep: bool) -> int:
    """Start the copy, run `command` told which copy it is (STACK_INSTANCE, STACK_PORT_OFFSET, and its
    brokers and database as the settings read them), then destroy the copy unless kept or the
    default, whatever happened; `command`'s exit status."""
    layout = stack.layout
    env = {
        **os.environ,
        "STACK_INSTANCE": layout.instance,
        "STACK_PORT_OFFSET": str(layout.port_offset),
        **layout.client_env(),
    }
    # SIGTERM (a CI runner giving up) ends the run as Ctrl-C does: through the removal below.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    where = f"STACK_INSTANCE={layout.instance}" if layout.instance else "the default copy"
    status = 1
    try:
        print(f"on {where} (ports +{layout.port_offset}, {layout.home.relative_to(ROOT)}):")
        stack.up([p.name for p in stack.processes])
        sys.stdout.flush()  # these lines before the command's own, in a CI log too
        returncode = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        status = 128 - returncode if returncode < 0 else returncode  # killed by a signal: 128 + its number
    finally:
        if layout.instance and not keep:
            print(f"removing {where} (KEEP=1 keeps it):")
            destroy(stack)
        elif layout.instance:
            print(f"kept {where}; remove it with: STACK_INSTANCE={layout.instance} {STACK_CLI} destroy")
        signal.signal(signal.SIGTERM, previous)
    return status


def dev_issuer() -> None:
    """The dev sign-on issuer's key pair and JWKS under var/oidc/, made once (shared/dev_issuer.py):
    the services trust it through OIDC_* in dev.env, and `python -m shared.auth mint` signs with it."""
    subprocess.run([PY, "-m", "shared.dev_issuer"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def leftovers() -> list[str]:
    """Processes still running from this checkout (any command line naming its folder)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(ROOT) in cmdline and int(proc.name) != os.getpid() and not _zombie(int(proc.name)):
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "action",
        choices=["up", "down", "kill", "status", "infra", "leftovers", "destroy", "run", "kafka-producer"],
    )
    parser.add_argument(
        "names", nargs="*", help="processes (see `status`); default: everything; run: -- COMMAND..."
    )
    args = parser.parse_args()
    stack = Stack(layout_of(os.environ))
    if args.action == "run":
        if not args.names:
            parser.error("run needs a command: stack.py run -- COMMAND...")
        sys.exit(run(stack, args.names, keep=os.environ.get("KEEP", "") not in ("", "0")))
    if args.action == "destroy":
        destroy(stack)
        return
    if args.action == "kafka-producer":
        if len(args.names) != 1:
            parser.error(f"kafka-producer needs one name: stack.py kafka-producer {PRODUCER_PREFIX}NAME")
        print("".join(f"{k}={v}\n" for k, v in stack.add_producer(args.names[0]).items()), end="")
        return
    if unknown := set(args.names) - stack.by_name.keys():
        parser.error(
            f"unknown process(es): {', '.join(sorted(unknown))}; this copy runs {', '.join(stack.by_name)}"
        )
    names = args.names or [p.name for p in stack.processes]
    if args.action == "infra":
        names = [*stack.nodes, "ferretdb"]
    if args.action == "leftovers":
        if found := leftovers():
            sys.exit("still running after make down:\n" + "\n".join(found))
        print("no process of this checkout is running")
    elif args.action in ("up", "infra"):
        stack.up(names)
    elif args.action == "kill":
        for name in stack.kill(args.names):
            print(f"  {name:15} killed")
    elif args.action == "down":
        for name in stack.stop(list(reversed(names))):
            print(f"  {name:15} stopped")
    else:
        for name in names:
            pid = stack.pid_of(name)
            print(f"  {name:15} {'running, pid ' + str(pid) if pid else 'stopped'}")


if __name__ == "__main__":
    main()
