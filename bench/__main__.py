"""`python -m bench [--only STEP,...]`: start what is not running, then run the benchmarks in an
order where no heavy step overlaps a measurement, print the table and write var/bench/results.json.

Order: register the 10,000 bench branches; stop the scoring worker; intake (its records join the
log); fill the log (skipped when the marker says it is there); the bare consumer; Kafka's Java
tools; rescore (which scores the bench branches); start the worker; ranking queries (then
compliance and advanced candidates); live latency. A step that fails stops the run (after the
worker is started again): the table shows what was measured before, and the exit status is 1.
Sizes come from BENCH_* variables (bench/config.py)."""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from bench import system
from bench.assessment import assessment
from bench.config import ROOT, Sizes, tokens
from bench.consume import raw_consume
from bench.dataset import YEAR, bench_city
from bench.fill import fill
from bench.intake import intake
from bench.java import java_consume, java_produce
from bench.live import live
from bench.memory import RssSampler
from bench.ranking import ranking
from bench.registry import register
from bench.replay import replay
from bench.report import table, write
from tools.demo.target import dev_env

STEPS = ("intake", "fill", "consume", "java", "rescore", "ranking", "live")


class StepFailed(Exception):
    """A step of the bench failed: what follows would measure on a broken state, so the run stops."""

    def __init__(self, name: str, error: BaseException):
        super().__init__(f"step {name!r} failed: {error!r}")
        self.name, self.error = name, error


class Run:
    """The figures, flags and details so far; written to results.json after every step, so a run
    stopped by a failed step keeps what it measured before."""

    def __init__(self, only: set[str]):
        self.figures: dict = {}
        self.flags: dict[str, str] = {}
        self.details: dict = {"errors": {}}
        self.partial = only != set(STEPS)

    async def step(self, name: str, title: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run one step; if it fails, record its error and raise StepFailed."""
        print(f"\n== {title} ({time.strftime('%H:%M:%S')})", flush=True)
        try:
            await body()
        except Exception as err:
            self.details["errors"][name] = repr(err)
            self.details.setdefault("stopped_at", name)  # the first, not the worker's restart after it
            print(f"  {name} FAILED: {err!r}", flush=True)
            raise StepFailed(name, err) from err
        finally:
            write(self.figures, self.flags, self.details, self.partial)


def offered(load: dict, want: int) -> str:
    """The note of a latency figure: the load it was measured at, and what went wrong."""
    note = f"offered {load['offered_rps']:,}/s for {load['seconds']} s, open loop"
    if load["offered_rps"] != want:
        note += f" (not the target's {want:,}/s)"
    if failed := load["sent"] - load["answered_ok"]:
        note += f"; {failed:,} of {load['sent']:,} failed {load['statuses']} (counted as slower than any)"
    if load["waited_for_bound"]:  # then requests started late because the server held the slots
        note += f"; {load['waited_for_bound']:,} waited for the bound of {load['max_outstanding']} in flight"
    elif load["late_p99_ms"] > 10:  # on a busy machine the generator's own delay is in every latency
        note += f"; the generator started its requests up to {load['late_p99_ms']} ms late (p99)"
    return note


async def run(r: Run, only: set[str], sizes: Sizes) -> None:
    f, flags, details = r.figures, r.flags, r.details
    details["sizes"] = sizes.__dict__
    toks, city, run_id = tokens(), bench_city(sizes.copies), f"r{int(time.time()):x}"
    api = RssSampler(lambda: system.pid_of("scoring-api"))
    worker_rss: list[float] = []

    async def registry() -> None:
        details["registered"] = await register(city, toks)

    async def stop_worker() -> None:
        system.stack("down", "scoring-worker")

    async def intake_step() -> None:
        details["intake"] = d = await intake(city, sizes, toks, run_id)
        f.update({k: d["single"][k] for k in ("intake_single_p99_ms", "intake_single_max_eps")})
        f.update(intake_batch_eps=d["batch"]["intake_batch_eps"], raw_produce_eps=d["raw"]["raw_produce_eps"])
        flags["intake_single_p99_ms"] = offered(d["single"]["fixed"], 300)
        flags["intake_single_max_eps"] = f"open loop, {sizes.ladder_seconds} s per rate of {sizes.ladder}"
        if other := {s: n for s, n in d["batch"]["statuses"].items() if s not in (200, 202)}:
            flags["intake_batch_eps"] = f"answers other than 202: {other}"

    async def fill_step() -> None:
        details["fill"] = await fill(city, sizes.records, sizes.history_years)

    async def consume_step() -> None:
        details["consume"] = d = await raw_consume()
        f["raw_consume_eps"] = d["raw_consume_eps"]

    async def java_step() -> None:
        details["java_consume"] = d = await java_consume()
        f["java_consume_eps"] = d["java_consume_eps"]
        size = details["consume"]["avg_value_bytes"]
        details["java_produce"] = d = await java_produce(max(sizes.records, d["records"]), size)
        f["java_produce_eps"] = d["java_produce_eps"]

    async def route_step() -> None:
        # With the worker stopped nothing routes the fill onto the repartition topics, which the
        # rescore reads: route it first, so the rescore's figure is folding alone.
        command = [sys.executable, "-m", "services.scoring", "route"]
        env = {**os.environ, **dev_env()}
        done = await asyncio.to_thread(
            subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True
        )
        details["route"] = {"exit": done.returncode, "output": (done.stdout + done.stderr)[-500:]}
        if done.returncode:
            raise RuntimeError(f"routing the fill failed: {done.stderr[-300:]}")

    async def rescore_step() -> None:
        async with api:
            details["rescore"] = d = await replay(sizes.rescore_deadline)
        if d["exit"] not in (0, "deadline"):
            raise RuntimeError(f"the rescore exited with {d['exit']}; see var/bench/rescore.log")
        f["rescore_eps"] = d["rescore_eps"]
        worker_rss.append(d["rescore_rss_mb"])
        notes = [d["note"]] if d.get("incomplete") else []
        if failed := d.get("failed_attempts"):
            notes.append(f"{len(failed)} failed attempt(s) before, exits {[a['exit'] for a in failed]}")
        if notes:
            flags["rescore_eps"] = "; ".join(notes)
        if "raw_consume_eps" in f:
            f["rescore_vs_raw"] = round(d["rescore_eps"] / f["raw_consume_eps"], 4)

    async def start_worker() -> None:
        system.stack("up")  # the worker, and whatever else another helper stopped meanwhile

    async def ranking_step() -> None:
        async with api:
            details["ranking"] = d = await ranking(sizes, toks, len(city.branches))
        f.update(ranking_p99_ms=d["ranking_p99_ms"], ranking_max_rps=d["ranking_max_rps"])
        flags["ranking_p99_ms"] = offered(d["fixed"], 500)
        flags["ranking_max_rps"] = f"open loop, {sizes.ladder_seconds} s per rate of {sizes.ladder}"
        if d["total_branches"] < len(city.branches):
            few = f"only {d['total_branches']:,} branches had scores in {YEAR}"
            flags["ranking_p99_ms"] += f"; {few}"
            flags["ranking_max_rps"] += f"; {few}"
        async with api:
            details["assessment"] = d = await assessment(sizes, toks)
        f.update(compliance_p99_ms=d["compliance_p99_ms"], advanced_p99_ms=d["advanced_p99_ms"])

    async def live_step() -> None:
        async with RssSampler(lambda: system.pid_of("scoring-worker")) as worker:
            details["live"] = d = await live(sizes, toks, run_id)
        details["live"]["worker_rss_mb"] = round(worker.max_mb, 1)
        worker_rss.append(worker.max_mb)
        f.update(live_p50_ms=d["live_p50_ms"], live_p99_ms=d["live_p99_ms"])
        notes = ["lower bound: " + d["note"]] if d.get("incomplete") else []
        if d["sent_eps"] < 0.95 * sizes.live_rate:
            notes.append(f"the intake took {d['sent_eps']}/s, not {sizes.live_rate}/s")
        if notes:
            flags["live_p99_ms"] = flags["live_p50_ms"] = "; ".join(notes)

    await r.step("registry", f"bench branches: {len(city.branches):,} ({city.prefix}…)", registry)
    if only & {"intake", "fill", "rescore"}:
        await r.step(
            "worker", "stopping the scoring worker (it would score the fill for minutes)", stop_worker
        )
    try:
        if "intake" in only:
            await r.step("intake", "4. intake", intake_step)
        if only - {"live"}:  # live alone measures on a caught-up worker: no backlog of its own making
            await r.step("fill", f"fill: {sizes.records:,} bench records", fill_step)
        if only & {"consume", "java"}:
            await r.step("consume", "2. bare aiokafka consumer", consume_step)
        if "java" in only:
            await r.step("java", "1. Kafka's Java tools", java_step)
        if "rescore" in only:
            await r.step("route", "routing the fill onto the repartition topics", route_step)
            await r.step("rescore", "3. rescore from offset 0", rescore_step)
    finally:
        await r.step("start", "starting the scoring worker (stack.py up)", start_worker)
    if "ranking" in only:
        await r.step("ranking", "6. ranking queries", ranking_step)
    if only & {"rescore", "ranking"}:
        f["api_rss_mb"] = round(api.max_mb, 1)
    if "live" in only:
        await r.step("live", "5. live latency", live_step)
    if worker_rss:
        f["worker_rss_mb"] = round(max(worker_rss), 1)
        flags["worker_rss_mb"] = "max of the rescore process (3) and the live worker (5)"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if unknown := only - set(STEPS):
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    system.stack("up")
    r = Run(only)
    try:
        asyncio.run(run(r, only, Sizes()))
    except StepFailed as failed:
        path = write(r.figures, r.flags, r.details, r.partial)
        print("\n" + table(r.figures, r.flags) + f"\n\nwritten to {path}")
        first = r.details.get("stopped_at", failed.name)
        print(f"\nbench STOPPED: step {first!r} failed: {r.details['errors'].get(first)}", file=sys.stderr)
        sys.exit(1)
    path = write(r.figures, r.flags, r.details, r.partial)
    print("\n" + table(r.figures, r.flags) + f"\n\nwritten to {path}")


if __name__ == "__main__":
    main()
