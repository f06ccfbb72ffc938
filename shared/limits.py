"""Request body limits, enforced before anything parses the body: size, read time, and no body
read at all for a caller without a valid token."""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import known_caller
from shared.problems import Problem

BODY_READ_TIMEOUT_S = 10.0


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, whether or not Content-Length says so;
    408 for a body not complete within `read_timeout_s` (a slow-loris client holds nothing longer).

    The body of a caller with a valid token is read here, up to the limit, and handed on whole.
    Raising from inside the app's own `receive` would not do: FastAPI turns any error while it
    reads a body into a 400 "error parsing the body", so a chunked upload over the limit would not
    be told what it broke. A caller without a valid token gets nothing buffered: its request goes
    on unread, and the routes (AuthFirstRoute) answer 401 before they read a byte.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_s: float = BODY_READ_TIMEOUT_S):
        self.app, self.max_bytes, self.read_timeout_s = app, max_bytes, read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = Problem(413, "Content Too Large", f"the body limit is {self.max_bytes} bytes")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_big.response(scope["path"])(scope, receive, send)
            return
        if not known_caller(scope.get("app"), headers.get(b"authorization")):
            await self.app(scope, self._capped(receive), send)
            return
        try:
            async with asyncio.timeout(self.read_timeout_s):
                first = await self._read(receive)
        except TimeoutError:
            slow = Problem(
                408,
                "Request Timeout",
                f"the body must arrive within {self.read_timeout_s:g} s",
                headers={"Connection": "close"},
            )
            await slow.response(scope["path"])(scope, receive, send)
            return
        if first is None:
            await too_big.response(scope["path"])(scope, receive, send)
            return
        pending = [first]

        async def replay() -> Message:
            # The whole body once, then the server's own messages (a disconnect, for streams).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    def _capped(self, receive: Receive) -> Receive:
        """`receive` for a request left unread: should anything read it, past the limit or the
        time it looks as if the client left."""
        seen, loop = 0, asyncio.get_running_loop()
        ends_at = loop.time() + self.read_timeout_s

        async def capped() -> Message:
            nonlocal seen
            try:
                async with asyncio.timeout_at(ends_at):
                    message = await receive()
            except TimeoutError:
                return {"type": "http.disconnect"}
            seen += len(message.get("body", b""))
            return {"type": "http.disconnect"} if seen > self.max_bytes else message

        return capped

    async def _read(self, receive: Receive) -> Message | None:
        """The body as one message, or None once it passes the limit (the rest is never read)."""
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client left: the app sees the disconnect
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
