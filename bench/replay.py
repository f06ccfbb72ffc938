"""Figure 3, scoring replay: `python -m services.scoring rescore` rebuilds every score from offset 0
of the event topics into a new generation. Timed as the wall time of the whole subprocess (start to
exit, so Python's start-up and the final switch are in it); its records are the count it prints.
Its peak RSS comes from wait4() (ru_maxrss of exactly that child) and sampled VmHWM."""

import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import time

from bench.config import OUT, ROOT
from bench.memory import status_mb
from bench.system import stack
from tools.demo.target import dev_env

DONE = re.compile(r"generation (\d+) is live: (\d+) records, (\d+) ledgers")
PROGRESS = re.compile(r"(\d+)/(\d+) \[")


def _stop(pid: int) -> resource.struct_rusage:
    """SIGINT (its finally blocks close the clients), SIGKILL if it is still there 20 s later."""
    os.kill(pid, signal.SIGINT)
    for _ in range(100):
        done, _status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return usage
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return os.wait4(pid, 0)[2]


async def replay(deadline_s: float, attempts: int = 3) -> dict:
    """Run the rescore; if it outlives the deadline, stop it and report what it had read by then.
    A run that fails (other helpers restart Kafka and the database at times) is started again, after
    `stack.py up`, with what is left of the deadline; the failures are listed in the result."""
    failures: list[dict] = []
    began = time.monotonic()
    while True:
        result = await asyncio.to_thread(_replay, deadline_s - (time.monotonic() - began))
        if result["exit"] in (0, "deadline") or len(failures) + 1 >= attempts:
            return result | {"failed_attempts": failures}
        tail = (OUT / "rescore.log").read_text(errors="replace").strip().splitlines()[-1:]
        failures.append({"exit": result["exit"], "seconds": result["seconds"], "last_line": tail})
        print(f"  rescore failed ({tail}); starting what is down and trying again", flush=True)
        await asyncio.to_thread(stack, "up")


def _replay(deadline_s: float) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / "rescore.log"
    env = {**os.environ, **dev_env()}
    command = [sys.executable, "-m", "services.scoring", "rescore"]
    with open(log_path, "w") as log:
        began = time.monotonic()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        peak_mb, rusage = 0.0, None
        status: int | str | None = None
        while status is None:
            peak_mb = max(peak_mb, status_mb(child.pid, "VmHWM") or 0.0)
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status, rusage = os.waitstatus_to_exitcode(wait_status), usage
                break
            if time.monotonic() - began > deadline_s:
                rusage, status = _stop(child.pid), "deadline"
                break
            time.sleep(0.2)
        seconds = time.monotonic() - began
    text = log_path.read_text(errors="replace")
    rss_mb = max(peak_mb, (rusage.ru_maxrss / 1024) if rusage else 0.0)
    result: dict = {"seconds": round(seconds, 1), "rescore_rss_mb": round(rss_mb, 1), "exit": status}
    if (done := DONE.search(text)) and status == 0:
        records = int(done.group(2))
        result |= {"records": records, "generation": int(done.group(1)), "ledgers": int(done.group(3))}
        result["rescore_eps"] = round(records / seconds)
        return result
    progress = PROGRESS.findall(text.replace("\r", "\n"))
    read = int(progress[-1][0]) if progress else 0
    result |= {"records_read_at_stop": read, "rescore_eps": round(read / seconds), "incomplete": True}
    result["note"] = f"rescore did not finish ({status}); the figure counts records folded by then"
    return result
