"""Fixtures every test layer shares: demo tokens, the system's URLs, random ids, polling."""

import asyncio
import importlib.util
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import pytest

from tools.demo.target import dev_env as read_dev_env

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def load_stack() -> ModuleType:
    """deploy/local/stack.py as a module (deploy/ is not a package); importing it only defines things."""
    name = "deploy_local_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "local" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


# The running system's URLs, from the one table that starts it.
_BY_NAME = load_stack().BY_NAME
URLS = {
    "scoring": _BY_NAME["scoring-api"].url,
    "volunteer": _BY_NAME["volunteer"].url,
    "liaison": _BY_NAME["liaison"].url,
    "training": _BY_NAME["training"].url,
    "worker": _BY_NAME["scoring-worker"].url,
}


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
