"""A steady-rate sender for fault scenarios: posts records through the intake services from a few
concurrent senders, retries 503s and connection errors with the same ids until each record is
acknowledged, and keeps a ledger of everything acknowledged (202)."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from tests.conftest import URLS
from tests.fault.workload import Item
from tests.support import RESOURCES

RETRY_AFTER_CAP_S = 2.0
CONNECTION_RETRY_S = 0.5
Answer = tuple[int | None, dict]  # one record's status (None: no answer) and its result


@dataclass
class Ledger:
    """Every record an intake service acknowledged with 202, and every record voided with a 202."""

    records: dict[str, tuple[str, dict]] = field(default_factory=dict)  # id -> (service, body)
    voided: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Attempt:
    """One HTTP request: when it left and came back (monotonic), its status (None: no answer)."""

    started: float
    ended: float
    status: int | None
    retry_after: str | None = None  # the Retry-After header, if the answer had one


@dataclass
class Tally:
    """What the senders saw, per record (a batch answer counts once per item in it)."""

    posted: int = 0  # distinct records handed to the senders
    acked: int = 0  # 202 answers, duplicates of already acknowledged records included
    rejected_503: int = 0
    connection_errors: int = 0
    duplicates: int = 0  # 202 answers flagged duplicate
    other: Counter = field(default_factory=Counter)  # any other status: a scenario expects none


class Driver:
    """Posts `workload()` items at `rate` records a second from `senders` concurrent senders, to
    the intake services at `urls` (the stack's by default)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: str,
        workload: Callable[[], Item],
        rate: float,
        senders: int = 4,
        urls: Mapping[str, str] = URLS,
    ):
        self._client, self._headers, self._urls = client, {"Authorization": f"Bearer {token}"}, urls
        self._workload, self._rate, self._senders = workload, rate, senders
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.ledger, self.tally, self.attempts = Ledger(), Tally(), list[Attempt]()
        self.last_ack = 0.0

    async def __aenter__(self) -> "Driver":
        self._tasks = [asyncio.create_task(self._pace())]
        self._tasks += [asyncio.create_task(self._send()) for _ in range(self._senders)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def finish(self, deadline_s: float = 120) -> None:
        """Stop making new work and wait until everything handed out is acknowledged."""
        self._tasks[0].cancel()
        await asyncio.wait_for(self._queue.join(), deadline_s)

    async def _pace(self) -> None:
        # Credit accrues with time; an item is queued whenever enough has accrued, so the rate holds
        # over any window of a second or more whatever the senders are going through.
        credit, last = 0.0, time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            credit, last = credit + (now - last) * self._rate, now
            while credit >= 1:
                item = self._workload()
                credit -= len(item.records)
                self.submit(item)

    def submit(self, item: Item) -> None:
        """Hand an item to the senders, who retry it until it is acknowledged."""
        self.tally.posted += len(item.records)
        self._queue.put_nowait(item)

    async def _send(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self.deliver(item)
            finally:
                self._queue.task_done()

    async def deliver(self, item: Item) -> None:
        """Post until every record of `item` is acknowledged, each retry with the same ids."""
        pending = list(item.records)
        while pending:
            if item.batch:
                answers, wait = await self._post_batch(item.service, pending)
            else:
                answer, wait = await self._post_one(item.service, pending[0])
                answers = [answer]
            pending = [r for r, a in zip(pending, answers, strict=True) if not self._settle(item, r, a)]
            if pending:
                await asyncio.sleep(wait)

    async def void(self, service: str, event_id: str, reason: str = "entered twice by mistake") -> None:
        """Void a record, retrying like a post, until the void is acknowledged."""
        url = f"{self._urls[service]}/v1/{RESOURCES[service]}/{event_id}:void"
        while True:
            status, body, wait = await self._request(url, {"reason": reason})
            if status == 202:
                self.ledger.voided.add(event_id)
                self._count(202, body)
                return
            self._count(status, body)
            if status not in (None, 503):
                return
            await asyncio.sleep(wait)

    def _settle(self, item: Item, record: dict, answer: Answer) -> bool:
        """Book one record's answer; True when nothing more is to be done for it."""
        status, body = answer
        self._count(status, body)
        if status == 202:
            self.ledger.records[record["id"]] = (item.service, record)
            self.last_ack = time.monotonic()
        return status not in (None, 503)

    def _count(self, status: int | None, body: dict) -> None:
        t = self.tally
        if status == 202:
            t.acked += 1
            t.duplicates += bool(body.get("duplicate"))
        elif status == 503:
            t.rejected_503 += 1
        elif status is None:
            t.connection_errors += 1
        else:
            t.other[status] += 1

    async def _post_one(self, service: str, record: dict) -> tuple[Answer, float]:
        status, body, wait = await self._request(f"{self._urls[service]}/v1/{RESOURCES[service]}", record)
        return (status, body), wait

    async def _post_batch(self, service: str, records: list[dict]) -> tuple[list[Answer], float]:
        url = f"{self._urls[service]}/v1/{RESOURCES[service]}:batch"
        status, body, wait = await self._request(url, {"items": records})
        if status in (200, 503) and "results" in body:
            return [(r["status"], r) for r in body["results"]], wait
        return [(status, body)] * len(records), wait  # no per-item answer: all alike

    async def _request(self, url: str, payload: dict) -> tuple[int | None, dict, float]:
        """POST once; (status or None, JSON body or {}, seconds to wait before a retry)."""
        started = time.monotonic()
        try:
            r = await self._client.post(url, json=payload, headers=self._headers)
        except httpx.TransportError:
            self.attempts.append(Attempt(started, time.monotonic(), None))
            return None, {}, CONNECTION_RETRY_S
        self.attempts.append(Attempt(started, time.monotonic(), r.status_code, r.headers.get("retry-after")))
        try:
            body = r.json()
        except ValueError:
            body = {}
        wait = min(float(r.headers.get("retry-after", CONNECTION_RETRY_S)), RETRY_AFTER_CAP_S)
        return r.status_code, body if isinstance(body, dict) else {}, wait
