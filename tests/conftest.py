"""Fixtures every test layer shares: demo tokens, the system's URLs, random ids, polling."""

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tools.demo.target import dev_env as read_dev_env
from tools.instance import instance
from tools.instance import load_stack as load_stack  # for tests of deploy/local/stack.py itself

pytest_plugins = ["tests.browser"]  # the `browser` fixture of the page tests
ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


# The copy of the system the tests run against: STACK_INSTANCE names it (`make test` runs a copy of
# its own, "test"; unset or empty: the default copy `make up` runs). Its URLs come from the one
# table that starts it; processes the tests start (workers, tools) inherit its broker and database.
INSTANCE = instance()
os.environ.update(INSTANCE.client_env)
URLS = INSTANCE.urls
BOOTSTRAP = INSTANCE.bootstrap_servers
MONGO_URL = INSTANCE.mongo_url


def dev_env() -> dict[str, str]:
    return read_dev_env()


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
