"""Prometheus helpers: HTTP request metrics for FastAPI apps and the /metrics endpoint."""

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route and status.", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route_template(scope: Scope) -> str:
    # Label by the route's template, never the raw path: raw paths carry ids (unbounded
    # label cardinality) and whatever an attacker puts in a URL. The router records the route
    # it matched in the scope.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class Observed:
    """Counts and times every HTTP request (plain ASGI: no per-request task or stream, which
    Starlette's BaseHTTPMiddleware costs and a cached ranking cannot afford)."""

    def __init__(self, app: ASGIApp, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route, method = _route_template(scope), scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - start)


def instrument(app: FastAPI, service: str) -> None:
    """Count and time every request, and serve GET /metrics."""
    app.add_middleware(Observed, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
