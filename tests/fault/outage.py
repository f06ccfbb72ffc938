"""Crash a shared process of the stack (SIGKILL via deploy/local/stack.py) and always bring it back."""

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from tests.conftest import ROOT, poll
from tests.fault.driver import Attempt

PY = str(ROOT / ".venv" / "bin" / "python")


def stack(action: str, name: str) -> None:
    """deploy/local/stack.py kill|up NAME (`up` returns once the process is ready)."""
    subprocess.run([PY, "deploy/local/stack.py", action, name], cwd=ROOT, check=True, timeout=180)


@dataclass
class Window:
    """When the process was gone (after the kill) until its restart began, and when it was ready."""

    began: float = 0.0
    ended: float = 0.0
    restored: float = 0.0


@asynccontextmanager
async def outage(name: str) -> AsyncIterator[Window]:
    """The process is SIGKILLed on entry and restarted (and waited for) on exit, whatever happened."""
    window = Window()
    try:
        await asyncio.to_thread(stack, "kill", name)  # in a thread: the driver keeps posting meanwhile
        window.began = time.monotonic()
        yield window
    finally:
        window.ended = time.monotonic()
        await asyncio.to_thread(stack, "up", name)
        window.restored = time.monotonic()


def answers_during(attempts: list[Attempt], window: Window) -> Counter:
    """Statuses of the requests sent and answered while the process was down ("none": no answer).
    A request sent before the kill may rightly be acknowledged during it: its receipt was stored,
    and its publish (or answer) was only slow on a loaded machine."""
    inside = [a for a in attempts if window.began <= a.started and a.ended <= window.ended]
    return Counter("none" if a.status is None else str(a.status) for a in inside)


async def readiness(client: httpx.AsyncClient, url: str) -> tuple[int, dict]:
    """(status, body) of GET url/readyz; (0, {}) while nothing answers."""
    try:
        r = await client.get(f"{url}/readyz")
        return r.status_code, r.json()
    except (httpx.HTTPError, ValueError):
        return 0, {}


async def reports_failure(
    client: httpx.AsyncClient, url: str, dependency: str, deadline_s: float = 30
) -> dict:
    """Poll a process's /readyz until it answers 503 naming `dependency`; return that body."""
    status, body = await poll(
        lambda: readiness(client, url),
        lambda r: r[0] == 503 and dependency in r[1].get("failed", {}),
        deadline_s=deadline_s,
        every_s=0.5,
    )
    assert status == 503 and dependency in body.get("failed", {}), f"{url}/readyz: {status} {body}"
    return body
