"""Request body size limits, enforced before anything parses the body."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, whether or not Content-Length says so.

    The body is read here, up to the limit, and handed on whole. Raising from inside the app's own
    `receive` would not do: FastAPI turns any error while it reads a body into a 400 "error parsing
    the body", so a chunked upload over the limit would not be told what it broke.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = Problem(413, "Content Too Large", f"the body limit is {self.max_bytes} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_big.response(scope["path"])(scope, receive, send)
            return
        first = await self._read(receive)
        if first is None:
            await too_big.response(scope["path"])(scope, receive, send)
            return
        pending = [first]

        async def replay() -> Message:
            # The whole body once, then the server's own messages (a disconnect, for streams).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

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
