"""A lean HTTP/1.1 client for the open-loop generator: keep-alive connections to one host, each
request encoded once before the clock starts, answers read by Content-Length or chunks. aiohttp
costs several times the CPU per request; on the bench's 2 cores that CPU is taken from the server
being measured, and the generator itself fell behind its schedule at about 1,000 requests/s."""

import asyncio
from urllib.parse import urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def encode(method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """One request, ready to write: request line, Host, the headers, Content-Length, the body."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Pool:
    """Keep-alive connections to the host of `url`: one is taken per request, a new one opened when
    none is idle (the generator bounds how many requests are in flight, so how many there are)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._idle: list[Connection] = []
        self.opened = 0

    async def request(self, raw: bytes) -> int:
        """Send `raw` (from `encode`), read the whole answer, return its status. A connection
        the server closed while idle (its keep-alive timeout) is replaced once: it never saw the
        request, so sending it again cannot double it."""
        while self._idle:
            status = await self._exchange(self._idle.pop(), raw, reused=True)
            if status is not None:
                return status
        self.opened += 1
        status = await self._exchange(await asyncio.open_connection(self.host, self.port), raw, reused=False)
        assert status is not None  # only a reused connection answers None
        return status

    async def _exchange(self, conn: Connection, raw: bytes, reused: bool) -> int | None:
        reader, writer = conn
        try:
            writer.write(raw)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as err:
                if reused and not getattr(err, "partial", b""):  # closed before a byte of an answer
                    writer.close()
                    return None
                raise
            status, length, chunked, close = _head(head)
            if chunked:
                await _read_chunks(reader)
            elif length:
                await reader.readexactly(length)
        except BaseException:  # a timeout or error mid-answer: the connection's state is unknown
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self._idle.append(conn)
        return status

    def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


def _head(head: bytes) -> tuple[int, int, bool, bool]:
    """(status, Content-Length, chunked, connection: close) of an answer's head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            close = "close" in value
    return status, length, chunked, close


async def _read_chunks(reader: asyncio.StreamReader) -> None:
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        await reader.readexactly(size + 2)  # the chunk and its CRLF
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
        pass
