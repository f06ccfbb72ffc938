"""Starts, checks and stops the local system (Kafka, FerretDB, the services, Prometheus) without Docker.

`python deploy/local/stack.py up [NAME ...]` starts what is not running and waits until each is
ready; `down [NAME ...]` stops; `kill NAME ...` SIGKILLs, as a crash would (fault tests);
`status` lists. Pid files: var/run/<name>.pid, logs: var/log/<name>.log.
The commands here are the ones docker-compose.yml runs (tests/unit/test_compose.py checks that).
"""

import argparse
import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
RUN, LOG = VAR / "run", VAR / "log"
PY = str(ROOT / ".venv" / "bin" / "python")
DEV_ENV = ROOT / "deploy" / "local" / "dev.env"


@dataclass(frozen=True)
class Process:
    """One process of the system: how to start it and how to know it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    url: str
    deadline_s: float = 60
    env: dict[str, str] = field(default_factory=dict)


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback URL of our own)
                return bool(r.status == 200)
        except OSError:
            return False

    return check


def kafka_ready() -> bool:
    """A metadata request succeeds (the broker is up and its controller elected)."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "connection refused" while it starts

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9092", request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def mongo_ready() -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient = MongoClient("mongodb://127.0.0.1:27017/", serverSelectionTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def service(name: str, args: list[str], port: int) -> Process:
    return Process(
        name, [PY, "-m", *args], http_ok(f"http://127.0.0.1:{port}/readyz"), f"http://127.0.0.1:{port}"
    )


KAFKA_LIBS = VAR / "kafka" / "libs"
PROCESSES = [
    Process(
        "kafka",
        [
            "java",
            "-Xmx512m",
            "-Xms256m",
            "-cp",
            f"{KAFKA_LIBS}/*",
            f"-Dlog4j2.configurationFile={ROOT}/deploy/kafka/log4j2.properties",
            "kafka.Kafka",
            str(VAR / "kafka" / "server.properties"),
        ],
        kafka_ready,
        "kafka://127.0.0.1:9092",
        deadline_s=90,
    ),
    Process(
        "ferretdb",
        [
            str(VAR / "bin" / "ferretdb-local"),
            "--listen-addr",
            "127.0.0.1:27017",
            "--data-dir",
            str(VAR / "ferretdb"),
            "--log-level",
            "error",  # warn would log every client's unsupported endSessions
        ],
        mongo_ready,
        "mongodb://127.0.0.1:27017/",
    ),
    service("scoring-worker", ["services.scoring", "worker", "-l", "info"], 8010),
    service("scoring-api", ["services.scoring", "api"], 8000),
    service("volunteer", ["services.volunteer"], 8001),
    service("liaison", ["services.liaison"], 8002),
    service("training", ["services.training"], 8003),
    # Scrapes everything above and evaluates deploy/prometheus/alerts.yml (Debian's prometheus
    # package, installed by provision.sh). Absolute paths: `leftovers` finds it by this checkout.
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
    ),
]
INFRA = ("kafka", "ferretdb")
BY_NAME = {p.name: p for p in PROCESSES}


def dev_env() -> dict[str, str]:
    """deploy/local/dev.env as a dict (KEY=VALUE lines; # comments)."""
    env = {}
    for line in DEV_ENV.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def pid_of(name: str) -> int | None:
    """The pid of a running process of ours, or None (stale pid files are removed)."""
    pid_file = RUN / f"{name}.pid"
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return None
    # Guard against a recycled pid: the process must still be running our command.
    if any(arg.encode() not in cmdline for arg in BY_NAME[name].command):
        pid_file.unlink(missing_ok=True)
        return None
    return pid


def prepare_kafka() -> None:
    """Write server.properties and format the log directory once (KRaft needs a cluster id)."""
    data = VAR / "kafka" / "data"
    data.mkdir(parents=True, exist_ok=True)
    template = (ROOT / "deploy" / "kafka" / "server.properties").read_text()
    (VAR / "kafka" / "server.properties").write_text(template.replace("@LOG_DIRS@", str(data)))
    if (data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    subprocess.run(
        [
            "java",
            "-cp",
            f"{KAFKA_LIBS}/*",
            f"-Dlog4j2.configurationFile={ROOT}/deploy/kafka/log4j2.properties",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(VAR / "kafka" / "server.properties"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start(p: Process) -> subprocess.Popen:
    if p.name == "kafka":
        prepare_kafka()
    RUN.mkdir(parents=True, exist_ok=True)
    LOG.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dev_env(), **p.env}
    with open(LOG / f"{p.name}.log", "ab") as log:
        child = subprocess.Popen(
            p.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    (RUN / f"{p.name}.pid").write_text(str(child.pid))
    return child


def wait_ready(p: Process, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + p.deadline_s
    while time.monotonic() < deadline and child.poll() is None:
        if p.ready():
            return
        time.sleep(0.3)
    tail = (LOG / f"{p.name}.log").read_text(errors="replace").splitlines()[-15:]
    state = (
        f"exited with {child.returncode}"
        if child.poll() is not None
        else f"not ready after {p.deadline_s:.0f}s"
    )
    sys.exit(f"{p.name} {state}; the end of var/log/{p.name}.log:\n" + "\n".join(tail))


def up(names: list[str]) -> None:
    for p in (BY_NAME[n] for n in names):
        if pid_of(p.name) is not None:  # running: not restarted, even if a dependency is away
            print(f"  {p.name:15} already running  {p.url}")
            continue
        began = time.monotonic()
        wait_ready(p, start(p))
        print(f"  {p.name:15} ready in {time.monotonic() - began:4.1f}s  {p.url}")


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)


def _signal_and_wait(name: str, sig: signal.Signals, timeout_s: float) -> bool:
    """Signal a process group and wait (up to timeout_s) for it to go; False if it was not running."""
    pid = pid_of(name)
    if pid is None:
        return False
    os.killpg(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):  # ignored SIGTERM: stop it for good
        os.killpg(pid, signal.SIGKILL)
    (RUN / f"{name}.pid").unlink(missing_ok=True)
    return True


def stop(name: str, timeout_s: float = 20) -> bool:
    return _signal_and_wait(name, signal.SIGTERM, timeout_s)


def kill(name: str, timeout_s: float = 10) -> bool:
    """SIGKILL a process group, as a crash would (fault tests); returns once it is gone."""
    return _signal_and_wait(name, signal.SIGKILL, timeout_s)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


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
    parser.add_argument("action", choices=["up", "down", "kill", "status", "infra", "leftovers"])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BY_NAME)}; default: everything")
    args = parser.parse_args()
    if unknown := set(args.names) - BY_NAME.keys():
        parser.error(f"unknown process(es): {', '.join(sorted(unknown))}")
    names = args.names or [p.name for p in PROCESSES]
    if args.action == "infra":
        names = list(INFRA)
    if args.action == "leftovers":
        if found := leftovers():
            sys.exit("still running after make down:\n" + "\n".join(found))
        print("no process of this checkout is running")
    elif args.action in ("up", "infra"):
        up(names)
    elif args.action == "kill":
        for name in args.names:
            if kill(name):
                print(f"  {name:15} killed")
    elif args.action == "down":
        for name in reversed(names):
            if stop(name):
                print(f"  {name:15} stopped")
    else:
        for name in names:
            pid = pid_of(name)
            print(f"  {name:15} {'running, pid ' + str(pid) if pid else 'stopped'}")


if __name__ == "__main__":
    main()
