"""The open-loop load generator (bench/load.py) against a small HTTP server on a free loopback port:
it keeps its schedule whatever the server does, times each request from its scheduled start (so a
stall shows in the p99 that a closed loop hides), bounds what is in flight and climbs a ladder."""

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

import bench.__main__ as main_module
from bench.http1 import Pool, encode
from bench.load import ladder, needed, open_loop
from bench.stats import summary_ms

Behaviour = Callable[[], Awaitable[int]]  # waits as the server would, returns the status


@asynccontextmanager
async def server(behave: Behaviour) -> AsyncIterator[str]:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 (a free port) answering every request by `behave`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                status = await behave()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.close()


@asynccontextmanager
async def client(url: str) -> AsyncIterator[tuple[Callable[[int], Awaitable[int]], list[int]]]:
    """A `send` for the generator through the bench's HTTP client (and the indices it was called with)."""
    seen: list[int] = []
    pool, raw = Pool(url), encode("GET", url, {"Authorization": "Bearer t"})

    def send(i: int) -> Awaitable[int]:
        seen.append(i)
        return pool.request(raw)

    try:
        yield send, seen
    finally:
        pool.close()


def delayed(seconds: float, status: int = 200) -> Behaviour:
    async def behave() -> int:
        await asyncio.sleep(seconds)
        return status

    return behave


async def test_keeps_its_schedule_whatever_the_server_takes() -> None:
    """100 ms answers at 100/s for 1 s: a closed loop of one would need 10 s; the open loop sends
    on time, ~10 requests in flight, and every latency is at least the server's 100 ms."""
    async with server(delayed(0.1)) as url, client(url) as (send, seen):
        began = time.monotonic()
        result = await open_loop(send, 100, 1.0)
        took = time.monotonic() - began
    assert result["sent"] == result["answered_ok"] == 100 and sorted(seen) == list(range(100))
    assert result["statuses"] == {"200": 100}
    assert took < 3.0, took
    assert result["peak_outstanding"] >= 8
    assert result["latency"]["p50_ms"] >= 100
    assert result["waited_for_bound"] == 0


async def test_a_stall_shows_in_the_open_loop_p99_that_a_closed_loop_hides() -> None:
    """The server stops answering for 1 s (answers held until it is over) in the middle of 3 s.
    One closed-loop client meets the stall once: its p99 stays at the fast answers. The open loop
    keeps sending through it, and a third of its requests wait: its p99 shows the stall."""
    stall_s = 1.0
    stall: dict[str, float] = {}

    async def behave() -> int:
        if (until := stall.get("until")) and time.monotonic() < until:
            await asyncio.sleep(until - time.monotonic())
        await asyncio.sleep(0.005)
        return 200

    async def closed_loop(send: Callable[[int], Awaitable[int]], seconds: float) -> list[float]:
        latencies, stop_at, i = [], time.monotonic() + seconds, 0
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            await send(i)
            latencies.append(time.monotonic() - sent)
            i += 1
        return latencies

    async def stall_in(seconds: float) -> None:
        await asyncio.sleep(seconds)
        stall["until"] = time.monotonic() + stall_s

    async with server(behave) as url, client(url) as (send, _):
        stall.clear()
        closed, _ = await asyncio.gather(closed_loop(send, 3.0), stall_in(1.0))
        stall.clear()
        opened, _ = await asyncio.gather(open_loop(send, 100, 3.0), stall_in(1.0))
    closed_p99 = summary_ms(closed)["p99_ms"]
    assert max(closed) >= 0.9 * stall_s  # the closed loop met the stall too…
    assert closed_p99 < 250, closed_p99  # …and its p99 hides it
    assert opened["p99_ms"] >= 0.8 * stall_s * 1000, opened
    assert opened["latency"]["p90_ms"] >= 0.3 * stall_s * 1000, opened
    assert opened["answered_ok"] == opened["sent"] == 300


async def test_the_bound_on_requests_in_flight_is_kept_and_reported() -> None:
    """200 ms answers at 50/s, at most 4 in flight: the rest wait for a slot, and their latency,
    timed from their schedule, carries that wait."""
    async with server(delayed(0.2)) as url, client(url) as (send, _):
        result = await open_loop(send, 50, 0.4, max_outstanding=4)
    assert result["sent"] == result["answered_ok"] == 20
    assert result["peak_outstanding"] == 4
    assert result["waited_for_bound"] >= 10
    # 20 requests 4 at a time take 5 rounds of 200 ms; the last was due at 0.38 s
    assert result["latency"]["max_ms"] >= 550, result["latency"]


async def test_failed_requests_count_as_slower_than_any() -> None:
    """Answers other than ok, and requests unanswered within the timeout, are counted by what
    happened to them and push the p99 to infinity once they are more than 1%."""
    answers = iter([500] * 5 + [200] * 45)

    async def behave() -> int:
        return next(answers)

    async with server(behave) as url, client(url) as (send, _):
        result = await open_loop(send, 100, 0.5)
    assert result["statuses"] == {"500": 5, "200": 45}
    assert result["answered_ok"] == 45
    assert math.isinf(result["p99_ms"]) and result["latency"]["p50_ms"] < 1000

    async with server(delayed(5.0)) as url, client(url) as (send, _):
        result = await open_loop(send, 20, 0.5, timeout_s=0.2)
    assert result["statuses"] == {"timeout": 10}
    assert math.isinf(result["latency"]["p50_ms"])

    async with server(delayed(0)) as url:
        pass  # its port is free again: nothing listens there
    async with client(url) as (send, _):
        result = await open_loop(send, 20, 0.2)
    assert result["statuses"] == {"ConnectionRefusedError": 4}


async def test_the_ladder_stops_at_the_first_rate_over_target() -> None:
    """A server that answers one request at a time in 10 ms (100/s at most): 20/s and 40/s stay
    within 200 ms, 200/s queues up a second's backlog, 400/s is never tried; every request has an
    index of its own across the rates."""
    lock = asyncio.Lock()

    async def behave() -> int:
        async with lock:
            await asyncio.sleep(0.01)
        return 200

    async with server(behave) as url, client(url) as (send, seen):
        result = await ladder(send, [20, 40, 200, 400], 1.0, 200, pause_s=0.2)
    assert result["max_rps"] == 40, result
    assert [s["offered_rps"] for s in result["steps"]] == [20, 40, 200]
    assert [s["within_target"] for s in result["steps"]] == [True, True, False]
    assert result["steps"][2]["p99_ms"] >= 500
    assert sorted(seen) == list(range(260)) == list(range(needed([20, 40, 200], 1.0)))


async def test_a_ladder_whose_first_rate_misses_has_no_max() -> None:
    async with server(delayed(0.1)) as url, client(url) as (send, _):
        result = await ladder(send, [20, 40], 0.5, 50)
    assert result["max_rps"] == 0 and len(result["steps"]) == 1


async def test_a_failed_step_stops_the_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench`: a step that raises stops the run; no later step runs, the table is
    printed with what was measured, the failed step is named and the exit status is 1."""
    written: list[dict] = []
    ran: list[str] = []

    def write(figures: dict, flags: dict, details: dict, partial: bool) -> str:
        written.append(dict(details))
        return "results.json"

    monkeypatch.setattr(main_module, "write", write)
    monkeypatch.setattr(main_module.system, "stack", lambda *a: None)
    monkeypatch.setattr("sys.argv", ["bench", "--only", "rescore"])

    async def fake_run(r: main_module.Run, only: set[str], sizes: object) -> None:
        async def ok() -> None:
            ran.append("route")
            r.figures["raw_consume_eps"] = 1

        async def rescore() -> None:
            ran.append("rescore")
            raise RuntimeError("the rescore exited with 1")

        async def ranking() -> None:
            ran.append("ranking")

        await r.step("route", "route", ok)
        await r.step("rescore", "rescore", rescore)
        await r.step("ranking", "ranking", ranking)

    monkeypatch.setattr(main_module, "run", fake_run)
    with pytest.raises(SystemExit) as stopped:
        await asyncio.to_thread(main_module.main)  # main runs its own event loop
    assert stopped.value.code == 1
    assert ran == ["route", "rescore"]
    assert written[-1]["stopped_at"] == "rescore" and "exited with 1" in written[-1]["errors"]["rescore"]
    out = capsys.readouterr()
    assert "raw_consume_eps" in out.out
    assert "bench STOPPED: step 'rescore' failed" in out.err


@asynccontextmanager
async def raw_server(answers: list[bytes], close_after_each: bool = False) -> AsyncIterator[tuple[str, list]]:
    """A server answering the n-th request with answers[n] (bytes as they go on the wire); it
    closes the connection after each answer if told to. Yields its url and the requests it read."""
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)  # fmt: skip
                got.append(head + await reader.readexactly(length))
                writer.write(answers[len(got) - 1])
                await writer.drain()
                if close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/v1/x?a=1", got
    finally:
        srv.close()


async def test_the_http_client_keeps_connections_and_reads_whole_answers() -> None:
    """Requests go out as encoded (Host, headers, Content-Length, body); answers by Content-Length
    and by chunks are read to their end, so the next answer on the connection is the next one's."""
    answers = [
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 422 Unprocessable\r\ncontent-length: 0\r\n\r\n",
    ]
    async with raw_server(answers) as (url, got):
        pool = Pool(url)
        post = encode("POST", url, {"Authorization": "Bearer t"}, b'{"id":"r1"}')
        assert [await pool.request(post) for _ in range(3)] == [202, 200, 422]
        pool.close()
    assert pool.opened == 1
    host = url.split("/")[2]
    assert (
        got[0]
        == (
            f"POST /v1/x?a=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer t\r\n"
            'Content-Length: 11\r\n\r\n{"id":"r1"}'
        ).encode()
    )


async def test_a_connection_the_server_closed_is_replaced_once() -> None:
    """A server that closes every connection after its answer (as one does at its keep-alive
    timeout): the next request, which it never read, goes again on a new connection, once."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with raw_server([ok] * 3, close_after_each=True) as (url, got):
        pool = Pool(url)
        raw = encode("GET", url)
        statuses = []
        for _ in range(3):
            statuses.append(await pool.request(raw))
        pool.close()
    assert statuses == [200, 200, 200] and len(got) == 3 and pool.opened == 3


def test_a_latency_figure_notes_its_offered_load_and_what_went_wrong() -> None:
    load = {"offered_rps": 300, "seconds": 20, "sent": 6000, "answered_ok": 6000, "statuses": {"202": 6000},
            "late_p99_ms": 2.0, "waited_for_bound": 0, "max_outstanding": 500}  # fmt: skip
    assert main_module.offered(load, 300) == "offered 300/s for 20 s, open loop"
    assert "(not the target's 500/s)" in main_module.offered(load, 500)
    late = load | {"late_p99_ms": 40.0}
    assert "the generator started its requests up to 40.0 ms late" in main_module.offered(late, 300)
    bound = late | {"waited_for_bound": 79, "answered_ok": 5990, "statuses": {"202": 5990, "503": 10}}
    note = main_module.offered(bound, 300)
    assert "79 waited for the bound of 500 in flight" in note and "generator" not in note
    assert "10 of 6,000 failed" in note
