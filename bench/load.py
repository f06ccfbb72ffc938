"""Open-loop, constant-rate load: request i is fired at start + i/rate whether or not earlier ones
have answered, and its latency is timed from that scheduled start, so a stall counts against every
request it delays (coordinated omission corrected), not only against the one that met it."""

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable

from bench.stats import summary_ms

Send = Callable[[int], Awaitable[int]]  # fires request i (0, 1, …), returns its HTTP status
OK = frozenset({200, 202})


async def open_loop(
    send: Send,
    rate: float,
    seconds: float,
    *,
    ok: Collection[int] = OK,
    max_outstanding: int = 500,
    timeout_s: float = 10.0,
) -> dict:
    """`rate` requests per second for `seconds`. A request that failed (another status, an error,
    no answer within `timeout_s`) counts as slower than any, so p99 is infinite once more than 1%
    fail. At most `max_outstanding` requests are in flight: one due while the bound is full fires
    when a slot frees, still timed from its schedule, and is counted in `waited_for_bound`."""
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    lateness: list[float] = []  # when each request actually started, after its schedule
    statuses: Counter[str] = Counter()
    slots = asyncio.Semaphore(max_outstanding)
    in_flight = peak = waited = 0
    last_done = 0.0

    async def one(i: int, scheduled: float) -> None:
        nonlocal in_flight, last_done
        lateness.append(time.monotonic() - scheduled)
        try:
            async with asyncio.timeout(timeout_s):
                status = await send(i)
            key = str(status)
        except TimeoutError:
            status, key = 0, "timeout"
        except Exception as err:  # a refused connection is an answer of this load, not a crash
            status, key = 0, type(err).__name__
        last_done = time.monotonic()
        statuses[key] += 1
        latencies.append(last_done - scheduled if status in ok else math.inf)
        in_flight -= 1
        slots.release()

    tasks: set[asyncio.Task] = set()
    start = time.monotonic()
    for i in range(count):
        scheduled = start + i / rate
        # sleep(0) when already late: the tasks fired so far must get to send meanwhile
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        if slots.locked():
            waited += 1
        await slots.acquire()
        in_flight += 1
        peak = max(peak, in_flight)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    latency = summary_ms(latencies)
    answered = sum(n for s, n in statuses.items() if s.isdigit() and int(s) in ok)
    return {
        "offered_rps": rate,
        "seconds": seconds,
        "sent": count,
        "answered_ok": answered,
        "ok_rps": round(answered / max(last_done - start, 1e-9), 1),
        "p99_ms": latency["p99_ms"],
        "latency": latency,
        "statuses": dict(statuses),
        # how late requests started: the generator's own delay, and the bound's wait if it was hit
        "late_p99_ms": summary_ms(lateness)["p99_ms"],
        "max_outstanding": max_outstanding,
        "peak_outstanding": peak,
        "waited_for_bound": waited,
    }


async def ladder(
    send: Send, rates: Iterable[float], seconds: float, target_ms: float, pause_s: float = 1.0, **kw
) -> dict:
    """`open_loop` at each rate in turn (`send` sees one running index across them), up to the
    first whose p99 exceeds `target_ms`: `max_rps` is the highest rate within target, 0 if none."""
    steps: list[dict] = []
    best: float = 0
    offset = 0
    for rate in rates:
        result = await open_loop(_shifted(send, offset), rate, seconds, **kw)
        offset += result["sent"]
        result["within_target"] = result["p99_ms"] <= target_ms
        steps.append(result)
        print(f"    {rate:>6,}/s: p99 {result['p99_ms']} ms, {result['statuses']}", flush=True)
        if not result["within_target"]:
            break
        best = rate
        await asyncio.sleep(pause_s)  # let what the last rate queued drain before the next
    return {"max_rps": best, "target_ms": target_ms, "seconds_each": seconds, "steps": steps}


def _shifted(send: Send, offset: int) -> Send:
    """`send` with its index moved on by `offset`: each rate of a ladder sends requests of its own."""
    return lambda i: send(offset + i)


def needed(rates: Iterable[float], seconds: float) -> int:
    """How many requests a full ladder sends at most."""
    return sum(max(1, round(r * seconds)) for r in rates)
