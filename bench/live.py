"""Figure 5, live latency: records posted through the three intake services at a steady rate; the
time from each 202 to the record showing in the ranking API (period = the probes' month, court =
the run's probe court), found by a poller that asks every POLL_S and turns scores into counts.

Each stream's records go out in batch posts every TICK_S, one post after another's 202, so Kafka
holds each branch's records in order and "count >= k" means the k-th is visible; every record of
a batch gets that batch's 202 time. (Single posts are measured in figure 4: at 500/s they would
take most of this 2-core machine before the worker saw a record.)
A latency is (response time of the first poll that shows it) - (time of its 202): an upper
bound, too high by at most one poll interval plus one poll's round trip. Records not visible by
the deadline count as (deadline - 202): then the percentiles are
lower bounds and the result says so."""

import asyncio
import time
from collections import Counter, deque

import aiohttp

from bench.config import API, INTAKE, RESOURCES, Sizes, Tokens
from bench.probes import MONTH, Probe, probes, registry_body
from bench.stats import percentile, summary_ms

POLL_S = 0.05
TICK_S = 0.1


class Board:
    """What the poller has seen and what the senders have had accepted, per probe branch."""

    def __init__(self) -> None:
        self.waiting: dict[str, deque[tuple[int, float]]] = {}  # branch -> (k, time of its 202)
        self.seen: Counter[str] = Counter()  # branch -> records visible
        self.latencies: list[float] = []
        self.accepted = 0

    def accepted_at(self, branch: str, k: int, at: float) -> None:
        self.accepted += 1
        if self.seen[branch] >= k:  # visible before its 202 reached us
            self.latencies.append(0.0)
        else:
            self.waiting.setdefault(branch, deque()).append((k, at))

    def shown(self, branch: str, count: int, at: float) -> None:
        self.seen[branch] = max(self.seen[branch], count)
        queue = self.waiting.get(branch)
        while queue and queue[0][0] <= count:
            self.latencies.append(max(0.0, at - queue.popleft()[1]))

    def pending(self) -> int:
        return sum(len(q) for q in self.waiting.values())


async def _register(session: aiohttp.ClientSession, court: str, branches: list[Probe], token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for p in branches:
        async with session.put(
            f"{API}/v1/branches/{p.branch_id}", json=registry_body(court, p), headers=headers
        ) as r:
            r.raise_for_status()


async def _send(
    session,
    stream: str,
    due: list[tuple[float, Probe, int]],
    run: str,
    board: Board,
    token: str,
    log: Counter,
):  # type: ignore[no-untyped-def]
    """One stream's records at their scheduled times, in batch posts of whatever is due every
    TICK_S (the way a court system would forward its records), each after the previous 202."""
    url = f"http://127.0.0.1:{INTAKE[stream]}/v1/{RESOURCES[stream]}:batch"
    headers = {"Authorization": f"Bearer {token}"}
    i = 0
    while i < len(due):
        await asyncio.sleep(max(0.0, due[i][0] - time.monotonic()))
        now = time.monotonic()
        batch: list[tuple[float, Probe, int]] = []
        while i < len(due) and due[i][0] <= now + TICK_S and len(batch) < 500:
            batch.append(due[i])
            i += 1
        while batch:  # a record refused (503) is sent again before anything newer of its branch
            sent = time.monotonic()
            try:
                items = [probe.record(run, k) for _, probe, k in batch]
                async with session.post(url, json={"items": items}, headers=headers) as r:
                    results = (await r.json())["results"] if r.status in (200, 503) else []
                    log[r.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                results = []
                log[0] += 1
            answered = time.monotonic()
            accepted = {res["index"] for res in results if res["status"] == 202}
            for j, (_, probe, k) in enumerate(batch):
                if j in accepted:
                    log["post_ms_total"] += round((answered - sent) * 1000)
                    board.accepted_at(probe.branch_id, k, answered)
            batch = [item for j, item in enumerate(batch) if j not in accepted]
            if batch:
                await asyncio.sleep(0.2)


async def _poll(session, court: str, by_id: dict[str, Probe], board: Board, token: str, stop, rtts: list):  # type: ignore[no-untyped-def]
    params = {"period": MONTH, "dimension": "total", "court": court, "limit": "1000"}
    headers = {"Authorization": f"Bearer {token}"}
    while not stop():
        sent = time.monotonic()
        try:
            async with session.get(f"{API}/v1/rankings", params=params, headers=headers) as r:
                body = await r.json() if r.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            body = None
        now = time.monotonic()
        rtts.append(now - sent)
        for row in (body or {}).get("rows", []):
            if probe := by_id.get(row["branch_id"]):
                board.shown(probe.branch_id, probe.count(row["scores"]), now)
        await asyncio.sleep(max(0.0, sent + POLL_S - time.monotonic()))


async def live(sizes: Sizes, tokens: Tokens, run: str) -> dict:
    court, branches = probes(run, sizes.live_branches)
    by_id, board, log, rtts = {p.branch_id: p for p in branches}, Board(), Counter[str | int](), list[float]()
    total = sizes.live_rate * sizes.live_seconds
    connector = aiohttp.TCPConnector(limit=len(branches) + 8)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await _register(session, court, branches, tokens.admin)
        print(
            f"  {total:,} records at {sizes.live_rate}/s over {len(branches)} probe branches of {court}",
            flush=True,
        )
        t0 = time.monotonic() + 1.0
        due: dict[str, list[tuple[float, Probe, int]]] = {}
        counts: Counter[str] = Counter()
        for i in range(total):
            probe = branches[i % len(branches)]
            counts[probe.branch_id] += 1
            due.setdefault(probe.stream, []).append(
                (t0 + i / sizes.live_rate, probe, counts[probe.branch_id])
            )
        sending_done = False
        deadline = [float("inf")]

        def stop() -> bool:
            return time.monotonic() > deadline[0] or (sending_done and board.pending() == 0)

        poller = asyncio.create_task(_poll(session, court, by_id, board, tokens.reader, stop, rtts))
        await asyncio.gather(
            *(_send(session, stream, items, run, board, tokens.writer, log) for stream, items in due.items())
        )
        sent_s = time.monotonic() - t0
        sending_done, deadline[0] = True, time.monotonic() + sizes.live_grace
        print(
            f"  sent in {sent_s:.1f}s; waiting up to {sizes.live_grace}s for {board.pending():,} to show",
            flush=True,
        )
        await poller
    return _result(board, sizes, sent_s, log, rtts, deadline[0])


def _result(
    board: Board, sizes: Sizes, sent_s: float, log: Counter, rtts: list[float], deadline: float
) -> dict:
    unseen = [deadline - at for q in board.waiting.values() for _, at in q]
    latencies = board.latencies + unseen
    result = {
        "live_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "live_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "latency_of_visible": summary_ms(board.latencies),
        "accepted": board.accepted,
        "visible": len(board.latencies),
        "sent_eps": round(board.accepted / sent_s, 1),
        "send_seconds": round(sent_s, 1),
        "post_statuses": {str(k): v for k, v in log.items() if k != "post_ms_total"},
        "post_mean_ms": round(log["post_ms_total"] / max(board.accepted, 1), 1),
        "poll_rtt_ms": summary_ms(rtts),
        "resolution_ms": round((0.05 + percentile(rtts, 50)) * 1000),
    }
    if unseen:
        result["incomplete"] = True
        result["note"] = (
            f"{len(unseen):,} of {board.accepted:,} records were not visible {sizes.live_grace}s after "
            "the last post: counted at the deadline, so the percentiles are lower bounds"
        )
    return result
