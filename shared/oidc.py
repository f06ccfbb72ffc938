"""OpenID Connect sign-on: JWT bearer tokens checked against the provider's JWKS (PyJWT).

The JWKS is fetched from OIDC_JWKS_URL (https://, http:// or file:) and cached; a token signed
with a key id the cache does not know triggers one refetch (at most one per
OIDC_JWKS_REFETCH_S), so a provider's key rotation is picked up without a restart, while a flood
of made-up key ids cannot make the service hammer the provider. A failed fetch never fails a
request by itself: the keys already cached stay in use; with none at all, the answer is 503."""

import asyncio
import dataclasses
import hashlib
import json
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.principal import Principal, Refused, principal_for

# Asymmetric algorithms only: `none` is never accepted, and no HS* (a verifier holding only the
# provider's public keys must never treat one as an HMAC secret).
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
VERIFIED_MAX = 4096  # verified tokens remembered (least recently used forgotten first)
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}  # the JWK kty each family needs


class OidcSettings(BaseSettings):
    """OIDC_*: sign-on is on when OIDC_ISSUER and OIDC_JWKS_URL are set (README, "Roles and sign-on")."""

    model_config = SettingsConfigDict(env_prefix="OIDC_", extra="ignore")

    issuer: str = ""  # the `iss` every token must carry
    audience: str = "court-partybuilding-scores"  # the `aud` every token must include
    jwks_url: str = ""  # https://..., or file:var/oidc/jwks.json (relative to the working directory)
    algorithms: list[str] = ["RS256", "ES256"]
    leeway_s: float = 30  # clock skew tolerated on exp, nbf and iat
    jwks_max_age_s: float = 3600  # then the next request refetches (a failure keeps the old keys)
    jwks_refetch_s: float = 30  # at most one refetch per this long for an unknown key id
    fetch_timeout_s: float = 3
    # The claims a principal is read from (README documents them).
    roles_claim: str = "roles"
    court_claim: str = "court"
    branch_claim: str = "branch"

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        if not value or any(alg not in ASYMMETRIC for alg in value):
            raise ValueError(f"algorithms must be among {sorted(ASYMMETRIC)} (never none or HS*)")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.jwks_url)


class Unavailable(Exception):
    """The provider's keys cannot be had right now: the request gets 503, not a verdict."""


class Invalid(Exception):
    """The token is not acceptable: 401, with a reason that quotes nothing of the token."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: worth a JWT check (anything else is only a static token)."""
    return token.count(".") == 2 and len(token) < 16_384


def read_jwks(url: str, timeout_s: float) -> dict[str, Any]:
    """The JWKS document at `url` (blocking: run it in a thread)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = urllib.parse.unquote(parts.netloc + parts.path)
        return dict(json.loads(Path(path).read_text()))
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported JWKS URL scheme {parts.scheme!r}")
    response = httpx.get(url, timeout=timeout_s, follow_redirects=False)
    response.raise_for_status()
    return dict(response.json())


@dataclass(frozen=True)
class SigningKey:
    """One of the provider's public keys, and the algorithm its JWK names (if it names one)."""

    jwk: jwt.PyJWK
    alg: str | None

    def fits(self, alg: str) -> bool:
        """Whether a token signed with `alg` may be checked with this key."""
        return self.jwk.key_type == KEY_TYPES[alg[:2]] and self.alg in (None, alg)


def keys_of(document: dict[str, Any]) -> dict[str, SigningKey]:
    """The usable signing keys of a JWKS by key id (symmetric and unidentified keys are skipped)."""
    found = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") == "oct" or not entry.get("kid"):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            named = entry.get("alg")
            found[str(entry["kid"])] = SigningKey(jwt.PyJWK(entry), named if isinstance(named, str) else None)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # one unusable key must not hide the others
    return found


class JwksCache:
    """The provider's keys by id, fetched on demand (one fetch at a time), refetched for new ids."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.monotonic):
        self._settings, self._clock = settings, clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None  # of the last fetch attempt, successful or not
        self._loaded = False
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many fetches were attempted (tests read it)

    def cached(self, kid: str) -> SigningKey | None:
        """The key if it is already cached (no I/O)."""
        return self._keys.get(kid)

    async def key(self, kid: str) -> SigningKey:
        """The key `kid`: Invalid if the provider does not have it, Unavailable if unreachable."""
        if (found := self._keys.get(kid)) is not None and not self._stale():
            return found
        async with self._lock:
            if (found := self._keys.get(kid)) is not None and not self._stale():
                return found
            if self._may_fetch(found is not None):
                await self._fetch()
        if (found := self._keys.get(kid)) is not None:
            return found
        if not self._loaded:
            raise Unavailable("the sign-on provider's keys could not be fetched")
        raise Invalid("the token is signed with a key the provider does not publish")

    def _stale(self) -> bool:
        at = self._fetched_at
        return at is not None and self._clock() - at > self._settings.jwks_max_age_s

    def _may_fetch(self, known_but_stale: bool) -> bool:
        at = self._fetched_at
        if at is None or known_but_stale:
            return True
        return self._clock() - at >= self._settings.jwks_refetch_s

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        self.fetches += 1
        try:
            document = await asyncio.to_thread(
                read_jwks, self._settings.jwks_url, self._settings.fetch_timeout_s
            )
            keys = keys_of(document)
        except (OSError, ValueError, httpx.HTTPError, jwt.PyJWTError):
            return  # keep serving the keys already cached; none at all answers 503
        if keys:
            self._keys, self._loaded = keys, True


class OidcVerifier:
    """Turns a JWT from the configured issuer into a Principal, or raises Invalid/Unavailable/Refused."""

    def __init__(
        self,
        settings: OidcSettings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.jwks = JwksCache(settings, clock)
        self._wall = wall
        # Tokens already verified, by their SHA-256, until their exp: a signature check costs
        # about a millisecond of the event loop, and a board or a client repeats its token.
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    async def principal(self, token: str) -> Principal:
        if (known := self._remembered(token)) is not None:
            return known
        kid, alg = self._header(token)
        return self._remember(token, self._verify(token, await self.jwks.key(kid), alg))

    def principal_cached(self, token: str) -> Principal | None:
        """The principal if the token verifies with a cached key (no I/O); None otherwise."""
        if (known := self._remembered(token)) is not None:
            return known
        try:
            kid, alg = self._header(token)
            key = self.jwks.cached(kid)
            return self._remember(token, self._verify(token, key, alg)) if key is not None else None
        except (Invalid, Refused):
            return None

    def _remembered(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        if (entry := self._verified.get(digest)) is None:
            return None
        if self._wall() > entry[0] + self.settings.leeway_s:  # expired since: verified afresh
            del self._verified[digest]
            return None
        self._verified.move_to_end(digest)
        return entry[1]

    def _remember(self, token: str, principal: Principal) -> Principal:
        self._verified[hashlib.sha256(token.encode()).digest()] = (principal.expires, principal)
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return principal

    def _header(self, token: str) -> tuple[str, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Invalid("the token is not a well-formed JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.settings.algorithms:
            raise Invalid("the token's signing algorithm is not accepted")
        if not isinstance(kid, str) or not kid:
            raise Invalid("the token names no key id (kid)")
        return kid, str(alg)

    def _verify(self, token: str, key: SigningKey, alg: str) -> Principal:
        if not key.fits(alg):
            raise Invalid("the token's algorithm does not match its key")
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Invalid("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Invalid("the token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise Invalid("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Invalid("the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as err:
            raise Invalid(f"the token lacks the claim {err.claim}") from None
        except jwt.PyJWTError:
            raise Invalid("the token's signature or claims are not valid") from None
        return _principal(claims, s)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _principal(claims: dict[str, Any], s: OidcSettings) -> Principal:
    raw = claims.get(s.roles_claim)
    listed = raw if isinstance(raw, list) else [raw]  # one role may come as a plain string
    roles = [r for r in listed if isinstance(r, str)]
    subject = _text(claims.get("sub"))
    court, branch = _text(claims.get(s.court_claim)), _text(claims.get(s.branch_claim))
    key = f"oidc:{claims.get('iss')}:{subject}"
    found = principal_for(f"oidc:{subject}", roles, court, branch, subject, key)
    return dataclasses.replace(found, expires=float(claims["exp"]))
