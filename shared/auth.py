"""Bearer-token authentication with scopes; tokens are configured as SHA-256 hashes, never in clear."""

import hashlib
import hmac
import sys
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.problems import Problem

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


def scope_check(scope: str) -> Callable[[Request], TokenEntry]:
    """A FastAPI dependency that admits only tokens with `scope` (app.state.authenticator)."""

    def dependency(request: Request) -> TokenEntry:
        authenticator: Authenticator = request.app.state.authenticator
        return authenticator.authorize(request.headers.get("authorization"), scope)

    return dependency


# Route parameters: `_: Writer` admits only callers whose token has the scope.
Writer = Annotated[TokenEntry, Depends(scope_check(WRITE_EVENTS))]
Reader = Annotated[TokenEntry, Depends(scope_check(READ_RANKINGS))]
Admin = Annotated[TokenEntry, Depends(scope_check(ADMIN))]


if __name__ == "__main__":
    print(token_hash(sys.argv[1]))
