"""What the benchmarks run against and how big they are: sizes from BENCH_* environment variables."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from shared.contracts import TOPICS
from tools.demo.target import dev_env
from tools.instance import instance

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "var" / "bench"
KAFKA_LIBS = ROOT / "var" / "kafka" / "libs"
# The copy STACK_INSTANCE names: `make bench` runs one of its own ("bench"); unset: the default copy.
INSTANCE = instance()
os.environ.update(INSTANCE.client_env)  # the processes it starts (the rescore) use that copy too
BOOTSTRAP = INSTANCE.bootstrap_servers
EVENT_TOPICS = [t.name for t in TOPICS.values()]
BENCH_TOPIC = "bench.produce.v1"  # Java and bare-producer writes: never the event topics
API = INSTANCE.urls["scoring"]
INTAKE = {
    s: INSTANCE.port(port) for s, port in {"volunteer": 8001, "liaison": 8002, "training": 8003}.items()
}
RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}


def _int(name: str, default: int) -> int:
    return int(os.environ.get(f"BENCH_{name}", default))


def _ints(name: str, default: str) -> tuple[int, ...]:
    return tuple(int(x) for x in os.environ.get(f"BENCH_{name}", default).split(",") if x.strip())


@dataclass(frozen=True)
class Sizes:
    """Full size by default; small values (e.g. BENCH_COPIES=2 BENCH_RECORDS=5000) for development."""

    copies: int = field(default_factory=lambda: _int("COPIES", 125))  # x80 branches: 10,000
    records: int = field(default_factory=lambda: _int("RECORDS", 200_000))  # events in the fill
    # years before the bench year filled as well (as many records each): a city with a past
    history_years: int = field(default_factory=lambda: _int("HISTORY_YEARS", 0))
    intake_rate: int = field(default_factory=lambda: _int("INTAKE_RATE", 300))  # single posts/s, offered
    intake_seconds: int = field(default_factory=lambda: _int("INTAKE_SECONDS", 20))  # at intake_rate
    intake_batches: int = field(default_factory=lambda: _int("INTAKE_BATCHES", 100))  # of 500 records
    intake_cap: int = field(default_factory=lambda: _int("INTAKE_CAP", 90))  # seconds per phase, at most
    batch_clients: int = field(default_factory=lambda: _int("BATCH_CLIENTS", 4))
    intake_stream: str = field(default_factory=lambda: os.environ.get("BENCH_INTAKE_STREAM", "training"))
    live_rate: int = field(default_factory=lambda: _int("LIVE_RATE", 500))
    live_seconds: int = field(default_factory=lambda: _int("LIVE_SECONDS", 60))
    live_grace: int = field(default_factory=lambda: _int("LIVE_GRACE", 120))  # wait after the last post
    live_branches: int = field(default_factory=lambda: _int("LIVE_BRANCHES", 600))
    ranking_rate: int = field(default_factory=lambda: _int("RANKING_RATE", 500))  # requests/s, offered
    ranking_seconds: int = field(default_factory=lambda: _int("RANKING_SECONDS", 20))  # at ranking_rate
    # the rates tried for intake_single_max_eps and ranking_max_rps, each for ladder_seconds
    ladder: tuple[int, ...] = field(default_factory=lambda: _ints("LADDER", "100,200,300,500,800,1200,1600"))
    ladder_seconds: int = field(default_factory=lambda: _int("LADDER_SECONDS", 5))
    max_outstanding: int = field(default_factory=lambda: _int("MAX_OUTSTANDING", 500))  # open-loop bound
    rescore_deadline: int = field(default_factory=lambda: _int("RESCORE_DEADLINE", 2400))


@dataclass(frozen=True)
class Tokens:
    writer: str
    reader: str
    admin: str


def tokens() -> Tokens:
    """The demo tokens: from the environment, else deploy/local/dev.env."""
    env = {**dev_env(), **os.environ}
    return Tokens(env["DEV_WRITER_TOKEN"], env["DEV_READER_TOKEN"], env["DEV_ADMIN_TOKEN"])
