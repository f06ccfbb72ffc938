"""The running system as the security tests see it: its HTTP services, demo tokens by scope, leaks."""

import json
import re
from dataclasses import dataclass

import httpx

from shared.auth import token_hash
from tests.conftest import ROOT, URLS, dev_env

# The four FastAPI services; the worker's web port (faust) has no OpenAPI document.
SERVICES = ("scoring", "volunteer", "liaison", "training")
# Operations anyone may call, and why: orchestrators probe health without credentials, and the
# answers say only whether the process and its dependencies are up.
PUBLIC_OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz")}
# Routes outside the OpenAPI documents that are public on purpose (checked one by one):
# /metrics: Prometheus scrapes without credentials; counts by route template, no records or tokens.
# /openapi.json, /docs, /redoc: the public contract, no data.
# /board and its files (scoring API): a static page that holds no data and asks for a reader token.
PUBLIC_EXTRAS = ("/metrics", "/openapi.json", "/docs", "/redoc")
BOARD_PAGES = ("/board", "/board/static/js/main.js", "/board/static/board.css")
WORKER_PUBLIC = ("/healthz", "/readyz", "/metrics")
# What a response must never show: a trace, source paths, driver internals, this checkout's path.
LEAK = re.compile(
    r"Traceback|File \"|site-packages|\.py\b|pymongo|aiokafka|faust|starlette|" + re.escape(str(ROOT)),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Operation:
    """One documented operation of a live service and the scope its token needs (None: public)."""

    service: str
    method: str
    path: str
    scope: str | None
    spec: dict

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def openapi(service: str) -> dict:
    return httpx.get(f"{URLS[service]}/openapi.json", timeout=10).raise_for_status().json()


def operations(service: str) -> list[Operation]:
    """Every operation in the service's live OpenAPI document, so a new route is covered at once."""
    found = []
    for path, methods in openapi(service)["paths"].items():
        for method, spec in methods.items():
            scopes = [s for req in spec.get("security", []) for s in req.get("bearer", [])]
            found.append(Operation(service, method.upper(), path, scopes[0] if scopes else None, spec))
    return found


def token_scopes() -> dict[str, set[str]]:
    """Each demo token's scopes, read from the hashes the services are configured with."""
    env = dev_env()
    by_hash = {e["sha256"]: set(e["scopes"]) for e in json.loads(env["AUTH_TOKENS"])}
    return {
        name: by_hash[token_hash(env[f"DEV_{name.upper()}_TOKEN"])] for name in ("writer", "reader", "admin")
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, *statuses: int) -> dict:
    """The response is one of `statuses`, as problem+json with a reason, and shows no internals."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"], body
    assert_no_leak(response)
    return body


def assert_no_leak(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    found = LEAK.search(response.text)
    assert found is None, f"{found.group(0)!r} in {response.text[:500]}"
