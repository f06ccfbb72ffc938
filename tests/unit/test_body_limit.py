"""Body limits before anything parses a body: an unknown caller's body is never read (401 first), a
body that arrives too slowly is cut with 408, one over the limit with 413."""

import asyncio
import json

from fastapi import APIRouter, Body, FastAPI

from shared.auth import Authenticator, AuthFirstRoute, AuthSettings, TokenEntry, Writer, token_hash
from shared.limits import BodyLimit
from shared.problems import install

TOKEN = "t-writer"


def app(max_bytes: int = 1000, read_timeout_s: float = 0.3) -> FastAPI:
    a = FastAPI()
    entry = TokenEntry(name="w", sha256=token_hash(TOKEN), scopes=["events:write"])
    a.state.authenticator = Authenticator(AuthSettings(tokens=[entry]))
    install(a)
    router = APIRouter(route_class=AuthFirstRoute)

    @router.post("/v1/things")
    async def things(_: Writer, body: dict = Body()) -> dict:  # noqa: B008
        return {"got": len(json.dumps(body))}

    a.include_router(router)
    a.add_middleware(BodyLimit, max_bytes=max_bytes, read_timeout_s=read_timeout_s)
    return a


async def call(asgi: FastAPI, headers: dict[str, str], chunks: list[bytes], stall: bool = False):  # type: ignore[no-untyped-def]
    """Send a POST as the server would hand it over; (status, body, how many chunks were read)."""
    read, sent = 0, []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/things",
        "raw_path": b"/v1/things",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive():  # type: ignore[no-untyped-def]
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": stall or read < len(chunks),
            }
        await asyncio.sleep(3600)  # a slow-loris client: the rest never comes

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    await asyncio.wait_for(asgi(scope, receive, send), 5)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, read


async def test_an_unknown_caller_gets_401_and_no_byte_of_its_body_is_read():
    chunks = [b'{"a": "' + b"x" * 100, b'"}']
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
        status, _, read = await call(app(), {"content-type": "application/json", **headers}, chunks)
        assert (status, read) == (401, 0), headers
    json_ = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    status, body, read = await call(app(), json_, chunks)
    assert (status, read) == (200, 2) and json.loads(body) == {"got": 109}


async def test_a_body_that_does_not_arrive_in_time_is_cut_with_408():
    status, body, _ = await call(
        app(read_timeout_s=0.2), {"authorization": f"Bearer {TOKEN}"}, [b'{"a"'], stall=True
    )
    assert status == 408 and b"0.2 s" in body


async def test_a_body_over_the_limit_is_413_chunked_or_declared():
    auth = {"authorization": f"Bearer {TOKEN}"}
    status, _, read = await call(app(max_bytes=100), auth, [b"x" * 60, b"x" * 60, b"x" * 60])
    assert (status, read) == (413, 2)  # the rest is never read
    status, _, read = await call(app(max_bytes=100), {**auth, "content-length": "5000"}, [b"x" * 5000])
    assert (status, read) == (413, 0)
