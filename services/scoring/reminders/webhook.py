"""Sends one webhook request: the destination resolved and checked at send time, no redirects.

The addresses aiohttp connects to are the very ones the allow-list judged (the check lives in its
resolver), so a name that resolves elsewhere between the check and the connection (DNS rebinding)
cannot slip through; an IP literal, which aiohttp does not resolve, is judged before the request."""

import socket
import time
from dataclasses import dataclass

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult

from services.scoring.reminders.allowlist import Allowlist, NotAllowed, check, destination, ip_literal
from services.scoring.reminders.signing import Outgoing

TIMEOUT_S = 10.0


class Transient(Exception):
    """A failure worth another try: the network, a timeout, 408, 429 or a 5xx."""


class Permanent(Exception):
    """A failure no retry mends: refused by the allow-list, or a 4xx other than 408/429."""


@dataclass(frozen=True)
class Sent:
    status: int
    seconds: float


class CheckedResolver(AbstractResolver):
    """Resolves as the system does, then refuses the whole answer if any address is not allowed."""

    def __init__(self, allow: Allowlist):
        self._allow = allow
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        addresses = [a for r in found if (a := ip_literal(r["host"])) is not None]
        check(self._allow, host, addresses)
        return found

    async def close(self) -> None:
        await self._inner.close()


class WebhookClient:
    """One aiohttp session whose every connection is resolved and checked afresh."""

    def __init__(self, allow: Allowlist, timeout_s: float = TIMEOUT_S):
        self._allow, self._timeout_s = allow, timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=CheckedResolver(self._allow), use_dns_cache=False, force_close=True
            )
            timeout = aiohttp.ClientTimeout(total=self._timeout_s)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)
        return self._session

    async def send(self, request: Outgoing) -> Sent:
        """POST once; Transient or Permanent when it did not land (2xx, and errcode 0 for robots)."""
        start = time.perf_counter()
        try:
            host, _ = destination(request.url)
            if (literal := ip_literal(host)) is not None:
                check(self._allow, host, [literal])
            async with self._client().post(
                request.url, data=request.body, headers=request.headers, allow_redirects=False
            ) as response:
                body = await response.read()
        except NotAllowed as err:
            raise Permanent(str(err)) from None
        except aiohttp.InvalidURL:
            raise Permanent("not a URL aiohttp can send to") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Transient(f"{type(err).__name__}") from None
        seconds = time.perf_counter() - start
        status = response.status
        if status in (408, 429) or status >= 500:
            raise Transient(f"HTTP {status}")
        if not 200 <= status < 300:  # a 3xx too: redirects are never followed
            raise Permanent(f"HTTP {status}")
        if _robot_error(body):
            raise Transient("the robot answered an error code")
        return Sent(status, seconds)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _robot_error(body: bytes) -> bool:
    """WeCom and DingTalk answer 200 with {"errcode": n}; anything but 0 did not post."""
    if not body.startswith(b"{"):
        return False
    try:
        found = orjson.loads(body)
    except ValueError:
        return False
    return isinstance(found, dict) and found.get("errcode", 0) not in (0, None)
