"""Resident memory of a process: its peak (VmHWM, resettable) and a sampled maximum of VmRSS."""

import asyncio
from collections.abc import Callable
from pathlib import Path


def status_mb(pid: int | None, field: str) -> float | None:
    """A field of /proc/<pid>/status (VmRSS, VmHWM) in MB, or None if the process is gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak(pid: int | None) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: `5` into clear_refs), so it then holds the
    peak of what follows; False if not allowed."""
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples VmRSS (and VmHWM) of the pid that `pid` answers, every `every_s`, while running."""

    def __init__(self, pid: Callable[[], int | None], every_s: float = 0.25):
        self._pid, self._every_s = pid, every_s
        self.max_mb = 0.0
        self.pids: set[int] = set()
        self._task: asyncio.Task | None = None

    def sample(self) -> None:
        pid = self._pid()
        if pid is not None:
            self.pids.add(pid)
        for field in ("VmRSS", "VmHWM"):
            self.max_mb = max(self.max_mb, status_mb(pid, field) or 0.0)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._every_s)

    async def __aenter__(self) -> "RssSampler":
        pid = self._pid()
        reset_peak(pid)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self.sample()
        if self._task:
            self._task.cancel()
