"""Fixtures every test layer shares: demo tokens, the system's URLs, random ids, polling."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
URLS = {
    "scoring": "http://127.0.0.1:8000",
    "volunteer": "http://127.0.0.1:8001",
    "liaison": "http://127.0.0.1:8002",
    "training": "http://127.0.0.1:8003",
    "worker": "http://127.0.0.1:8010",
}
T = TypeVar("T")


def dev_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "deploy" / "local" / "dev.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    return env


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    env = dev_env()
    return {
        "writer": env["DEV_WRITER_TOKEN"],
        "reader": env["DEV_READER_TOKEN"],
        "admin": env["DEV_ADMIN_TOKEN"],
    }


def new_id(prefix: str) -> str:
    """A fresh id per test, so tests share the system without cleaning up after each other."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def poll(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], deadline_s: float = 30, every_s: float = 0.2
) -> T:
    """Call `probe` until `done(result)` or the deadline; return the last result either way."""
    end = time.monotonic() + deadline_s
    result = await probe()
    while not done(result) and time.monotonic() < end:
        await asyncio.sleep(every_s)
        result = await probe()
    return result
