"""RFC 9457 problem details: every error leaves a service as application/problem+json with a reason."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error to answer with: status, short title, detail, and optional per-field errors."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers

    def response(self, instance: str) -> JSONResponse:
        body: dict = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON)


def field_errors(errors: list) -> list[dict]:
    """Pydantic errors as one entry per invalid field (never echoing the input back)."""
    return [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "message": e["msg"]}
        for e in errors
    ]


def install(app: FastAPI) -> None:
    """Answer every error (ours, validation, routing, unexpected) as problem+json."""

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()))
        return Problem(422, "Unprocessable Content", f"{len(errors)} invalid field(s)", errors).response(
            request.url.path
        )

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return Problem(
            exc.status_code, str(exc.detail), str(exc.detail), headers=getattr(exc, "headers", None)
        ).response(request.url.path)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the trace for operators; the caller gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return Problem(500, "Internal Server Error", "unexpected error").response(request.url.path)
