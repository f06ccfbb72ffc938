"""Bearer-token authentication with scopes; tokens are configured as SHA-256 hashes, never in clear."""

import hashlib
import hmac
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.problems import Problem, problem_responses

WRITE_EVENTS = "events:write"
READ_RANKINGS = "rankings:read"
ADMIN = "admin"
SCOPES = (WRITE_EVENTS, READ_RANKINGS, ADMIN)


class TokenEntry(BaseModel):
    """One accepted token: who holds it (for logs), its hash and what it may do."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[str]


class AuthSettings(BaseSettings):
    """AUTH_TOKENS: a JSON list of TokenEntry; `python -m shared.auth TOKEN` prints a hash."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    tokens: list[TokenEntry] = []


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Finds the entry for a presented token, comparing in constant time against every entry."""

    def __init__(self, settings: AuthSettings):
        self._entries = [(bytes.fromhex(e.sha256), e) for e in settings.tokens]

    def identify(self, token: str) -> TokenEntry | None:
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, entry in self._entries:  # no early exit: timing must not tell which matched
            if hmac.compare_digest(presented, digest):
                found = entry
        return found

    def authorize(self, authorization: str | None, scope: str) -> TokenEntry:
        """The caller's entry, or a 401/403 Problem."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "Unauthorized",
                "send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        entry = self.identify(token.strip())
        if entry is None:
            raise Problem(
                401,
                "Unauthorized",
                "the token is not valid",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if scope not in entry.scopes:
            raise Problem(403, "Forbidden", f"the token lacks the scope {scope}")
        return entry


def known_caller(app: Any, authorization: bytes | None) -> bool:
    """Whether a request's Authorization header names a valid token of `app` (an app without an
    authenticator admits everyone). Asked before any body is read: only known callers get one read."""
    authenticator = getattr(getattr(app, "state", None), "authenticator", None)
    if authenticator is None:
        return True
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and authenticator.identify(token.strip()) is not None


# Declared for the OpenAPI document (each operation names the scope it needs); the header itself is
# judged by Authenticator, which answers our own problem+json 401 rather than FastAPI's.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="Authorization: Bearer <token>")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def scope_check(scope: str) -> Callable[..., Awaitable[TokenEntry]]:
    """A FastAPI dependency that admits only tokens with `scope` (app.state.authenticator)."""

    async def dependency(request: Request, _: Credentials) -> TokenEntry:  # async: no thread hop
        authenticator: Authenticator = request.app.state.authenticator
        return authenticator.authorize(request.headers.get("authorization"), scope)

    dependency.scope = scope  # type: ignore[attr-defined]  # read by AuthFirstRoute
    return dependency


def _scopes(dependant: Dependant) -> list[str]:
    """The scopes a route's dependencies ask for (scope_check marks its dependency)."""
    scope = getattr(dependant.call, "scope", None)
    found = [scope] if isinstance(scope, str) else []
    return found + [s for d in dependant.dependencies for s in _scopes(d)]


class AuthFirstRoute(APIRoute):
    """Checks the token before FastAPI reads the body: an anonymous caller gets 401 without making the
    service parse (up to the body limit of) JSON, and never learns how its body would have fared."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if scopes := _scopes(self.dependant):  # documented for every protected route, once, here
            refusals = {401: "no or an unknown bearer token", 403: f"the token lacks the scope {scopes[0]}"}
            self.responses = {**problem_responses(refusals), **self.responses}

    def get_route_handler(self) -> Callable:
        handler, scopes = super().get_route_handler(), _scopes(self.dependant)

        async def checked(request: Request):  # type: ignore[no-untyped-def]
            for scope in scopes:
                request.app.state.authenticator.authorize(request.headers.get("authorization"), scope)
            return await handler(request)

        return checked if scopes else handler


# Route parameters: `_: Writer` admits only callers whose token has the scope.
Writer = Annotated[TokenEntry, Security(scope_check(WRITE_EVENTS), scopes=[WRITE_EVENTS])]
Reader = Annotated[TokenEntry, Security(scope_check(READ_RANKINGS), scopes=[READ_RANKINGS])]
Admin = Annotated[TokenEntry, Security(scope_check(ADMIN), scopes=[ADMIN])]


if __name__ == "__main__":
    print(token_hash(sys.argv[1]))
