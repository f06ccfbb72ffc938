"""Helpers for tests that run their own processes or talk to the running system."""

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx

from tests.conftest import ROOT, URLS, dev_env, new_id

LOG_DIR = ROOT / "var" / "log" / "tests"


def start_worker(app_id: str, database: str, port: int) -> subprocess.Popen:
    """A scoring worker of consumer group `app_id` writing to `database`, health on `port`."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **dev_env(),
        "SCORING_WORKER_APP_ID": app_id,
        "SCORING_WORKER_WEB_PORT": str(port),
        "MONGO_DATABASE": database,
    }
    log = open(LOG_DIR / f"worker-{app_id}-{port}.log", "ab")  # the child keeps it open
    return subprocess.Popen(
        [sys.executable, "-m", "services.scoring", "worker", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def workers(app_id: str, database: str, ports: list[int]) -> Iterator[dict[int, subprocess.Popen]]:
    """Start workers; whatever happens, none is left running afterwards."""
    procs = {p: start_worker(app_id, database, p) for p in ports}
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def metric(port: int, name: str) -> float | None:
    """One unlabelled metric from a worker's /metrics, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def deployment(branch_id: str, at: datetime, hours: float = 2.0, member_id: str | None = None) -> dict:
    return {
        "member_id": member_id or new_id("m"),
        "branch_id": branch_id,
        "kind": "tianping_volunteer_team",
        "started_at": at.isoformat(),
        "hours": hours,
        "place": "Yunhe district community centre",
    }


async def post_deployments(client: httpx.AsyncClient, token: str, records: list[dict]) -> list[str]:
    """Post records in batches through the volunteer service; return the accepted ids."""
    ids = []
    for start in range(0, len(records), 500):
        r = await client.post(
            f"{URLS['volunteer']}/v1/deployments:batch",
            json={"items": records[start : start + 500]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        ids += [item["id"] for item in r.json()["results"] if item["status"] == 202]
    return ids
