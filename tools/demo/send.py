"""One request to the system, retried while it is unavailable.

Every record carries its own id, so a batch resent after a 503 or a lost response is answered as
duplicates and counts once: retrying is always safe.
"""

import httpx
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_delay
from tqdm import tqdm


class Unavailable(Exception):
    """A 503: the service could not reach Kafka or MongoDB; retry after `retry_after` seconds."""

    def __init__(self, url: str, retry_after: float):
        super().__init__(f"{url} answered 503; retrying in {retry_after:g}s")
        self.retry_after = retry_after


class LoadFailed(Exception):
    """The load cannot complete: a request or some records were refused."""


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "2")))
    except ValueError:  # an HTTP date: not sent by our services
        return 2.0


def _wait(state: RetryCallState) -> float:
    err = state.outcome.exception() if state.outcome else None
    return err.retry_after if isinstance(err, Unavailable) else min(2.0**state.attempt_number, 15.0)


def _say_retry(state: RetryCallState) -> None:
    err = state.outcome.exception() if state.outcome else None
    tqdm.write(f"  {err}" if isinstance(err, Unavailable) else f"  retrying after {err!r}")


@retry(
    retry=retry_if_exception_type((Unavailable, httpx.TransportError)),
    wait=_wait,
    stop=stop_after_delay(300),  # then the system is down, not busy
    before_sleep=_say_retry,
    reraise=True,
)
async def send(client: httpx.AsyncClient, method: str, url: str, token: str, body: dict) -> httpx.Response:
    """One request, retried on 503 (after Retry-After) and on network errors; other 4xx/5xx raise."""
    response = await client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 503:
        raise Unavailable(url, _retry_after(response))
    if response.status_code >= 400:
        raise LoadFailed(f"{method} {url}: {response.status_code} {response.text[:500]}")
    return response
