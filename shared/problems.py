"""RFC 9457 problem details: every error leaves a service as application/problem+json with a reason."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shared.contracts import LINE_PATTERN, TEXT_PATTERN

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
# RFC 9110's names where Python's http module still has the older ones.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def title_of(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


def problem_schema(status: int) -> dict[str, Any]:
    """The JSON schema of an error body (RFC 9457 plus our per-field `errors`), for OpenAPI."""
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance"],
        "properties": {
            "type": {**text, "example": "about:blank"},
            "title": {**text, "example": title_of(status)},
            "status": {"type": "integer", "example": status},
            "detail": text,
            "instance": {**text, "description": "the request's path"},
            "errors": {
                "type": "array",
                "description": "one entry per invalid field, when fields are at fault",
                "items": {"type": "object", "properties": {"field": text, "message": text}},
            },
        },
    }


def problem_responses(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for errors answered as problem+json, status -> when."""
    return {
        status: {"description": when, "content": {PROBLEM_JSON: {"schema": problem_schema(status)}}}
        for status, when in statuses.items()
    }


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


# Patterns whose own text would not tell a sender what is wrong.
_PATTERN_MESSAGES = {
    LINE_PATTERN: "must not contain control characters or bidirectional overrides",
    TEXT_PATTERN: "must not contain control characters (other than tab and line breaks) "
    "or bidirectional overrides",
}


def _message(error: dict) -> str:
    return _PATTERN_MESSAGES.get(error.get("ctx", {}).get("pattern", ""), error["msg"])


def field_errors(errors: list) -> list[dict]:
    """Pydantic errors as one entry per invalid field (never echoing the input back)."""
    return [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "message": _message(e)}
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
            exc.status_code, title_of(exc.status_code), str(exc.detail), headers=getattr(exc, "headers", None)
        ).response(request.url.path)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the trace for operators; the caller gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return Problem(500, "Internal Server Error", "unexpected error").response(request.url.path)
