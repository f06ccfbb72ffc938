"""Liveness and readiness endpoints: /healthz says the process runs, /readyz that its dependencies answer."""

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[str | None]]


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Run each check; return the name → reason of every one that failed."""
    failures = {}
    for name, check in checks.items():
        reason = await check()
        if reason:
            failures[name] = reason
    return failures


def health_router(checks: Mapping[str, Check]) -> APIRouter:
    """GET /healthz and GET /readyz (503 naming each dependency that does not answer)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and MongoDB answer", responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        failures = await run_checks(checks)
        if failures:
            return JSONResponse({"status": "unavailable", "failed": failures}, status_code=503)
        return JSONResponse({"status": "ready", "checked": sorted(checks)})

    return router
