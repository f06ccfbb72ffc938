"""Bearer-token authentication and authorisation: static tokens (configured as SHA-256 hashes, never
in clear) and OpenID Connect JWTs (shared/oidc.py), each giving a Principal (shared/principal.py)
whose scope and organisation every route checks."""

import argparse
import hashlib
import hmac
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts import ID_PATTERN
from shared.oidc import Invalid, OidcSettings, OidcVerifier, Unavailable, looks_like_jwt
from shared.principal import (
    ADMIN,
    READ_RANKINGS,
    SCOPES,
    WRITE_EVENTS,
    Principal,
    Refused,
    check_branch,
    reading_court,
)
from shared.problems import Problem, problem_responses

__all__ = ["ADMIN", "READ_RANKINGS", "SCOPES", "WRITE_EVENTS", "Principal"]

# Routes that answer for the whole city and no court in particular, open to court-bound readers
# too: the registry (names of courts and branches, no scores) and the board's list of courts. Any
# other route without a `court` or branch parameter is refused to a court-bound caller (403), so a
# new city-wide route never leaks another court's figures by default.
CITY_REFERENCE = frozenset({("GET", "/v1/branches"), ("GET", "/v1/courts"), ("GET", "/v1/board/courts")})


class TokenEntry(BaseModel):
    """One accepted static token: who holds it (for logs), its hash, what and where it may act.

    Without `court` a token reaches the whole city (the demo tokens, and the services' own)."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[str]
    court: str | None = Field(default=None, pattern=ID_PATTERN)
    branch: str | None = Field(default=None, pattern=ID_PATTERN)

    @model_validator(mode="after")
    def _branch_in_a_court(self) -> "TokenEntry":
        if self.branch is not None and self.court is None:
            raise ValueError("a token limited to a branch names its court too")
        return self

    def principal(self) -> Principal:
        return Principal(
            self.name, "static", frozenset(self.scopes), self.court, self.branch, key=self.sha256
        )


class AuthSettings(BaseSettings):
    """AUTH_TOKENS: a JSON list of TokenEntry; `python -m shared.auth TOKEN` prints a hash. OIDC_*:
    sign-on (shared/oidc.py)."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    tokens: list[TokenEntry] = []
    oidc: OidcSettings = Field(default_factory=OidcSettings)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unauthorized(detail: str, error: bool = True) -> Problem:
    challenge = 'Bearer error="invalid_token"' if error else "Bearer"
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def _token_of(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send Authorization: Bearer <token>", error=False)
    return token.strip()


def _with_scope(principal: Principal, scope: str) -> Principal:
    if scope not in principal.scopes:
        raise Problem(403, "Forbidden", f"the token lacks the scope {scope}")
    return principal


class Authenticator:
    """Finds who presents a token: a static entry (compared in constant time against every entry),
    else, when sign-on is configured, a JWT of the configured issuer."""

    def __init__(self, settings: AuthSettings):
        self._entries = [(bytes.fromhex(e.sha256), e) for e in settings.tokens]
        self.oidc = OidcVerifier(settings.oidc) if settings.oidc.enabled else None

    def identify(self, token: str) -> TokenEntry | None:
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, entry in self._entries:  # no early exit: timing must not tell which matched
            if hmac.compare_digest(presented, digest):
                found = entry
        return found

    def known(self, token: str) -> Principal | None:
        """The caller, from a static entry or a JWT whose key is already cached (no I/O)."""
        if (entry := self.identify(token)) is not None:
            return entry.principal()
        if self.oidc is not None and looks_like_jwt(token):
            return self.oidc.principal_cached(token)
        return None

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller, or a 401 (no or a bad token), 403 (a token naming no usable role) or 503
        (the sign-on provider's keys cannot be fetched) Problem."""
        token = _token_of(authorization)
        if (entry := self.identify(token)) is not None:
            return entry.principal()
        if self.oidc is not None and looks_like_jwt(token):
            try:
                return await self.oidc.principal(token)
            except Invalid as err:
                raise _unauthorized(str(err)) from None
            except Unavailable as err:
                raise Problem(503, "Service Unavailable", str(err), headers={"Retry-After": "5"}) from None
            except Refused as err:
                raise Problem(403, "Forbidden", err.detail) from None
        raise _unauthorized("the token is not valid")

    async def authorize_async(self, authorization: str | None, scope: str) -> Principal:
        return _with_scope(await self.authenticate(authorization), scope)

    def authorize(self, authorization: str | None, scope: str) -> Principal:
        """The caller if it holds `scope`, without I/O (a JWT's key must be cached: a route has
        already authenticated the same header), or a 401/403 Problem."""
        principal = self.known(_token_of(authorization))
        if principal is None:
            raise _unauthorized("the token is not valid")
        return _with_scope(principal, scope)


def known_caller(app: Any, authorization: bytes | None) -> bool:
    """Whether a request's Authorization header names a valid token of `app` (an app without an
    authenticator admits everyone). Asked before any body is read: only known callers get one read.
    A valid JWT whose key is not cached yet counts as unknown here: its body is read as it comes."""
    authenticator = getattr(getattr(app, "state", None), "authenticator", None)
    if authenticator is None:
        return True
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and authenticator.known(token.strip()) is not None


class CourtOf:
    """Where a branch belongs: the court the registry names for it (None: unregistered)."""

    async def court_of(self, branch_id: str) -> str | None:
        raise NotImplementedError


def forbidden(err: Refused) -> Problem:
    return Problem(403, "Forbidden", err.detail)


async def branch_court(request: Request, branch_id: str) -> str | None:
    """The registered court of `branch_id`, from the app's registry look-up (app.state.org)."""
    org: CourtOf | None = getattr(request.app.state, "org", None)
    if org is None:
        raise Problem(503, "Service Unavailable", "the branch registry is not available")
    return await org.court_of(branch_id)


async def require_branch(request: Request, principal: Principal, branch_id: str, writing: bool) -> None:
    """403 unless `branch_id` is within the caller's reach (shared/principal.check_branch)."""
    if principal.city_wide:
        return
    try:
        check_branch(principal, branch_id, await branch_court(request, branch_id), writing)
    except Refused as err:
        raise forbidden(err) from None


def require_court(principal: Principal, court: str) -> None:
    """403 unless the caller reaches `court` (a registry write naming it, say)."""
    try:
        if reading_court(principal, court) != court:
            raise Refused(f"the token acts for court {principal.court} only")
    except Refused as err:
        raise forbidden(err) from None


def _set_query(request: Request, name: str, value: str) -> None:
    """Give the route `name=value` as if the caller had sent it (before anything read the query)."""
    query = request.scope["query_string"].decode("latin-1")
    pairs = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k != name]
    pairs.append((name, value))
    request.scope["query_string"] = urllib.parse.urlencode(pairs).encode("latin-1")
    request.__dict__.pop("_query_params", None)


async def enforce_organisation(request: Request, principal: Principal, route: "AuthFirstRoute") -> None:
    """The organisation half of every check: a court-bound caller's `court=` is its own (filled in
    when absent, 403 when another); a branch in the path or `branch=` must be within its reach; a
    route with neither answers for the city, which only city-wide callers (and CITY_REFERENCE) get.
    Routes that take the branch from their body say so (org="body") and check it themselves."""
    if principal.city_wide or route.org == "body":
        return
    writing = request.method not in ("GET", "HEAD")
    query = dict(
        urllib.parse.parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    )
    branch = request.path_params.get("branch_id") if "branch_id" in route.path_names else None
    branch = branch or (query.get("branch") if "branch" in route.query_names else None)
    try:
        if "court" in route.query_names and query.get("court") is not None:
            reading_court(principal, query["court"])  # another court's: refused
        if branch:
            court = await branch_court(request, branch)
            # A court's admin may register a new branch: the route checks the court its body names.
            if not (court is None and writing and ADMIN in route.scopes):
                check_branch(principal, branch, court, writing)
        elif "court" in route.query_names:
            # No branch named: the answer is a court's, the caller's own (as `court=` gives it).
            if query.get("court") is None and principal.court is not None:
                _set_query(request, "court", principal.court)
        elif (request.method, route.path) not in CITY_REFERENCE:
            raise Refused(f"this route answers for the whole city; the token reaches {principal.where()}")
    except Refused as err:
        raise forbidden(err) from None


# Declared for the OpenAPI document (each operation names the scope it needs); the header itself is
# judged by Authenticator, which answers our own problem+json 401 rather than FastAPI's.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="Authorization: Bearer <token>")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def scope_check(scope: str, org: str = "route") -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that admits only callers with `scope` (app.state.authenticator).

    org="route": the route's court/branch parameters are checked (enforce_organisation);
    org="body": the route checks the branch its body names itself (require_branch)."""

    async def dependency(request: Request, _: Credentials) -> Principal:  # async: no thread hop
        found = getattr(request.state, "principal", None)
        if isinstance(found, Principal):  # AuthFirstRoute has checked it, organisation too
            return _with_scope(found, scope)
        authenticator: Authenticator = request.app.state.authenticator
        return await authenticator.authorize_async(request.headers.get("authorization"), scope)

    dependency.scope = scope  # type: ignore[attr-defined]  # read by AuthFirstRoute
    dependency.org = org  # type: ignore[attr-defined]
    return dependency


def _marks(dependant: Dependant, attr: str) -> list[str]:
    """The values of a marker (`scope`, `org`) that a route's dependencies carry (scope_check)."""
    value = getattr(dependant.call, attr, None)
    found = [value] if isinstance(value, str) else []
    return found + [s for d in dependant.dependencies for s in _marks(d, attr)]


def _params(dependant: Dependant, kind: str) -> set[str]:
    """The names of a route's query or path parameters, its dependencies' included."""
    own = {p.alias for p in getattr(dependant, kind)}
    return own.union(*(_params(d, kind) for d in dependant.dependencies))


def _scopes(dependant: Dependant) -> list[str]:
    return _marks(dependant, "scope")


class AuthFirstRoute(APIRoute):
    """Checks the token, its scope and its organisation before FastAPI reads the body: an anonymous
    caller gets 401 without making the service parse (up to the body limit of) JSON, and never
    learns how its body would have fared."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)  # calls get_route_handler, which reads the dependencies
        if self.scopes:  # documented for every protected route, once, here
            refusals = {
                401: "no or an unknown bearer token",
                403: f"the token lacks the scope {self.scopes[0]}, or the organisation asked for is "
                "outside its reach",
            }
            self.responses = {**problem_responses(refusals), **self.responses}

    def get_route_handler(self) -> Callable:
        self.scopes = _scopes(self.dependant)
        self.org = "body" if "body" in _marks(self.dependant, "org") else "route"
        self.query_names = _params(self.dependant, "query_params")
        self.path_names = _params(self.dependant, "path_params")
        handler, scopes = super().get_route_handler(), self.scopes

        async def checked(request: Request):  # type: ignore[no-untyped-def]
            authenticator: Authenticator = request.app.state.authenticator
            principal = await authenticator.authenticate(request.headers.get("authorization"))
            for scope in scopes:
                _with_scope(principal, scope)
            await enforce_organisation(request, principal, self)
            request.state.principal = principal
            return await handler(request)

        return checked if scopes else handler


# Route parameters: `who: Writer` admits only callers whose token has the scope (and reach).
Writer = Annotated[Principal, Security(scope_check(WRITE_EVENTS), scopes=[WRITE_EVENTS])]
# A writer whose branch is in the body: the route calls require_branch for each record.
RecordWriter = Annotated[Principal, Security(scope_check(WRITE_EVENTS, org="body"), scopes=[WRITE_EVENTS])]
Reader = Annotated[Principal, Security(scope_check(READ_RANKINGS), scopes=[READ_RANKINGS])]
Admin = Annotated[Principal, Security(scope_check(ADMIN), scopes=[ADMIN])]


def main(argv: list[str]) -> None:
    """`python -m shared.auth TOKEN` prints its hash; `... mint --role ...` prints a dev sign-on token."""
    if argv[:1] != ["mint"]:
        if len(argv) != 1:
            sys.exit(
                "usage: python -m shared.auth TOKEN | mint --role ROLE [--court C] [--branch B] [--subject S]"
            )
        print(token_hash(argv[0]))
        return
    from shared import dev_issuer  # the dev issuer's key is needed only here

    parser = argparse.ArgumentParser(prog="python -m shared.auth mint", description=dev_issuer.__doc__)
    parser.add_argument("--role", required=True, action="append", help="a role; repeat for several")
    parser.add_argument("--court", help="the court the token acts for (none: the city)")
    parser.add_argument("--branch", help="the branch (member, clerk, secretary)")
    parser.add_argument("--subject", help="the subject (a member's member id); default: a fresh id")
    parser.add_argument("--minutes", type=int, default=60, help="validity (default 60)")
    args = parser.parse_args(argv[1:])
    print(dev_issuer.mint(args.role, args.court, args.branch, args.subject, args.minutes * 60))


if __name__ == "__main__":
    main(sys.argv[1:])
