"""The running system's scoring side as a scenario sees it: the stack's worker (health port 8010)
and API, plus extra workers a scenario may start in the same consumer group and database."""

import asyncio
import os
import signal
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from services.scoring.worker import WorkerSettings
from shared.settings import MongoSettings
from tests.conftest import URLS, dev_env, poll
from tests.fault.outage import stack
from tests.fault.workload import Workload
from tests.support import metric, start_worker

STACK_WORKER = int(URLS["worker"].rsplit(":", 1)[1])
EVENT_PARTITIONS = 18  # 3 topics x 6 partitions
# An extra worker's session timeout: how long a SIGKILLed one keeps its partitions from a new
# owner. Faust's default (60 s, what the stack's worker runs with) would dominate the run time.
EXTRA_ENV = {"BROKER_SESSION_TIMEOUT": "10"}


def stack_group() -> tuple[str, str]:
    """The stack worker's app id and database (dev.env over the settings' defaults)."""
    env = dev_env()
    return (
        env.get("SCORING_WORKER_APP_ID", WorkerSettings().app_id),
        env.get("MONGO_DATABASE", MongoSettings().database),
    )


@dataclass
class Scoring:
    """The stack's worker and API, and the extra workers started here (by health port)."""

    api_url: str = URLS["scoring"]
    extras: dict[int, subprocess.Popen] = field(default_factory=dict)

    def start(self, port: int) -> None:
        """Another worker in the stack's consumer group, writing the stack's database."""
        app_id, database = stack_group()
        self.extras[port] = start_worker(app_id, database, port, **EXTRA_ENV)

    def kill(self, port: int) -> None:
        """SIGKILL an extra worker: no commit, no goodbye to the group."""
        os.killpg(self.extras[port].pid, signal.SIGKILL)
        self.extras[port].wait()

    def ports(self) -> list[int]:
        alive = [p for p, proc in self.extras.items() if proc.poll() is None]
        return [STACK_WORKER, *alive]

    async def owned(self) -> dict[int, float]:
        """Event partitions each worker owns now (0 for one that does not answer)."""
        return {
            p: await asyncio.to_thread(metric, p, "scoring_assigned_partitions") or 0.0 for p in self.ports()
        }

    async def wait_owned(self, done: Callable[[dict[int, float]], bool], deadline_s: float = 120) -> dict:
        owned = await poll(self.owned, done, deadline_s=deadline_s, every_s=0.5)
        assert done(owned), f"partitions not assigned as expected: {owned}"
        return owned

    async def stop_extras(self) -> None:
        """SIGTERM: an extra leaves the group at once and its partitions go back to the others."""
        for proc in self.extras.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.extras.values():
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def lag(port: int) -> float | None:
    """Records the worker on `port` has yet to score (its consumer lag over every partition)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    return sum(
        float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith("scoring_consumer_lag{")
    )


def all_assigned(owned: dict[int, float]) -> bool:
    """Every event partition has an owner and every live worker owns some."""
    return sum(owned.values()) == EVENT_PARTITIONS and min(owned.values(), default=0) > 0


async def register(client: httpx.AsyncClient, api_url: str, admin: str, workload: Workload) -> None:
    """Register the workload's branches under its court, so rankings and stats can filter by it."""
    for i, (branch, members) in enumerate(workload.branches.items()):
        r = await client.put(
            f"{api_url}/v1/branches/{branch}",
            json={
                "name": f"故障演练支部 {i}",
                "court": workload.court,
                "court_name": "故障演练法院",
                "members": members,
            },
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 200, r.text


@asynccontextmanager
async def stack_scoring() -> AsyncIterator[Scoring]:
    """The stack's scoring side, its worker owning every partition before and after the scenario."""
    scoring = Scoring()
    await asyncio.to_thread(stack, "up", "scoring-worker")  # a no-op while it runs
    await scoring.wait_owned(lambda owned: owned.get(STACK_WORKER) == EVENT_PARTITIONS)
    # A backlog (the demo year right after `make up`) would be timed as the fault's: let it drain.
    await poll(lambda: asyncio.to_thread(lag, STACK_WORKER), lambda n: n is not None and n < 100, 240, 1)
    try:
        yield scoring
    finally:
        await scoring.stop_extras()
        await asyncio.to_thread(stack, "up", "scoring-worker")
        await scoring.wait_owned(lambda owned: owned.get(STACK_WORKER) == EVENT_PARTITIONS)
