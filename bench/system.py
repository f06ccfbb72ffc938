"""The running system: start and stop its processes with deploy/local/stack.py, find their pids."""

import subprocess
import sys
import time
from pathlib import Path

from bench.config import INSTANCE, ROOT

STACK = ROOT / "deploy" / "local" / "stack.py"


def stack(action: str, *names: str) -> None:
    """`stack.py <action> [names]`, retried once: other helpers may be restarting processes."""
    for attempt in (1, 2):
        done = subprocess.run([sys.executable, str(STACK), action, *names], check=False)
        if done.returncode == 0:
            return
        if attempt == 1:
            print(f"  stack.py {action} {' '.join(names)} failed ({done.returncode}); retrying", flush=True)
            time.sleep(3)
    raise RuntimeError(f"stack.py {action} {' '.join(names)} failed")


def pid_of(name: str) -> int | None:
    """The pid in the copy's <run>/<name>.pid (var/run/ for the default copy) if that process is alive."""
    try:
        pid = int((INSTANCE.run / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
