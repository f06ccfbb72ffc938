"""Loads a dataset through the public APIs: branches into the registry (PUT, admin token), records
through the intake services in batches of 500 (writer token), and counts what they answered."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from tqdm import tqdm

from tools.demo.dataset import STREAMS, Dataset, branch_body
from tools.demo.send import LoadFailed, send
from tools.demo.target import Target

BATCH = 500
CONFLICT = 409


@dataclass
class Tally:
    """What the intake services answered for one stream's records."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    statuses: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def add(self, results: list[dict[str, Any]]) -> None:
        for r in results:
            if r["status"] == 202:
                self.duplicate += r["duplicate"]
                self.accepted += not r["duplicate"]
                continue
            self.rejected += 1
            self.statuses.add(r["status"])
            if len(self.problems) < 5:
                self.problems.append(f"{r.get('id')}: {r['status']} {r['detail']} {r.get('errors') or ''}")


async def register_branches(
    client: httpx.AsyncClient, target: Target, dataset: Dataset, parallel: int
) -> None:
    """PUT every branch of the dataset into the registry (a PUT replaces: repeating it is harmless)."""
    gate = asyncio.Semaphore(parallel)

    async def put(branch_id: str, body: dict) -> None:
        async with gate:
            await send(client, "PUT", target.branch_url(branch_id), target.admin_token, body)

    async with asyncio.TaskGroup() as group:
        for branch in dataset.city.branches:
            group.create_task(put(branch.branch_id, branch_body(branch)))


async def register_members(
    client: httpx.AsyncClient, target: Target, dataset: Dataset, parallel: int
) -> None:
    """PUT every member into the registry (the same body again changes nothing it answers)."""
    gate = asyncio.Semaphore(parallel)

    async def put(member_id: str, body: dict) -> None:
        async with gate:
            await send(client, "PUT", target.member_url(member_id), target.admin_token, body)

    async with asyncio.TaskGroup() as group:
        for member_id, body in dataset.registry:
            group.create_task(put(member_id, body))


async def post_examination(client: httpx.AsyncClient, target: Target, dataset: Dataset) -> Tally:
    """Post the ballots and appraisals (the training service hashes each voter before publishing)."""
    tally = Tally()
    for resource, records in dataset.exam.items():
        for i in range(0, len(records), BATCH):
            body = {"items": records[i : i + BATCH]}
            response = await send(client, "POST", target.exam_url(resource), target.writer_token, body)
            tally.add(response.json()["results"])
    return tally


def batches(dataset: Dataset) -> Iterator[tuple[str, list[dict]]]:
    """Batches of up to 500, the streams taking turns so all three services work at once."""
    per_stream = {s: [r[i : i + BATCH] for i in range(0, len(r), BATCH)] for s, r in dataset.records.items()}
    for n in range(max(len(b) for b in per_stream.values())):
        for stream in STREAMS:
            if n < len(per_stream[stream]):
                yield stream, per_stream[stream][n]


async def post_records(
    client: httpx.AsyncClient, target: Target, dataset: Dataset, parallel: int
) -> dict[str, Tally]:
    """Post every record; one Tally per stream."""
    tallies = {s: Tally() for s in STREAMS}
    gate = asyncio.Semaphore(parallel)
    bar = tqdm(total=dataset.size(), unit="rec", desc=f"demo {dataset.version} x{dataset.scale}")

    async def post(stream: str, items: list[dict]) -> None:
        async with gate:
            response = await send(
                client, "POST", target.batch_url(stream), target.writer_token, {"items": items}
            )
        tallies[stream].add(response.json()["results"])
        bar.update(len(items))
        bar.set_postfix(
            accepted=sum(t.accepted for t in tallies.values()),
            duplicate=sum(t.duplicate for t in tallies.values()),
            rejected=sum(t.rejected for t in tallies.values()),
        )

    with bar:
        async with asyncio.TaskGroup() as group:
            for stream, items in batches(dataset):
                group.create_task(post(stream, items))
    return tallies


def check(tallies: dict[str, Tally]) -> None:
    """Fail loudly when any record was refused."""
    refused = {s: t for s, t in tallies.items() if t.rejected}
    if not refused:
        return
    lines = [
        f"{s}: {t.rejected} rejected, e.g.\n    " + "\n    ".join(t.problems) for s, t in refused.items()
    ]
    if any(CONFLICT in t.statuses for t in refused.values()):
        lines.append(
            "409: these ids were loaded before with other content, by another version of the demo "
            "generator; load it into a system without demo data (or void the old records)."
        )
    raise LoadFailed("records were rejected:\n  " + "\n  ".join(lines))


async def load(dataset: Dataset, target: Target, parallel: int = 4) -> dict[str, Any]:
    """Register the branches, post every record, and say what happened; raise LoadFailed if anything
    was refused."""
    began = time.monotonic()
    timeout = httpx.Timeout(120.0, connect=5.0)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            await register_branches(client, target, dataset, parallel * 2)
            await register_members(client, target, dataset, parallel * 2)
            tallies = await post_records(client, target, dataset, parallel)
            if dataset.exam:
                tallies["examination"] = await post_examination(client, target, dataset)
    except ExceptionGroup as group:  # the first failure cancelled the other requests
        first = group.exceptions[0]
        raise LoadFailed(str(first) if isinstance(first, LoadFailed) else repr(first)) from first
    check(tallies)
    return {
        "scale": dataset.scale,
        "branches": len(dataset.city.branches),
        "records": {s: len(r) for s, r in dataset.records.items()}
        | {r: len(x) for r, x in dataset.exam.items()},
        "members": len(dataset.registry),
        "accepted": sum(t.accepted for t in tallies.values()),
        "duplicate": sum(t.duplicate for t in tallies.values()),
        "seconds": round(time.monotonic() - began, 1),
    }
