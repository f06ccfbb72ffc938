"""OpenID Connect sign-on: tokens signed with local test keys, the JWKS served by a real local HTTP
server; rotation, expiry, issuer, audience, algorithms, tampering, unknown keys, an away provider."""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared import dev_issuer
from shared.auth import Authenticator, AuthSettings, TokenEntry, token_hash
from shared.oidc import Invalid, OidcSettings, OidcVerifier, Unavailable
from shared.principal import ADMIN, READ_RANKINGS, WRITE_EVENTS, Refused
from shared.problems import Problem

ISSUER = "https://sso.court.test/realms/courts"
AUDIENCE = "court-partybuilding-scores"


class Provider:
    """A JWKS endpoint on a real socket: its keys can be rotated and it can be made to fail."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.published: set[str] = set()  # the key ids the JWKS lists
        self.failing = False
        self.hits = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                if provider.failing:
                    self.send_error(500)
                    return
                body = json.dumps(provider.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, kid: str, key: Any = None) -> Any:
        self.keys[kid] = key or ec.generate_private_key(ec.SECP256R1())
        self.published.add(kid)
        return self.keys[kid]

    def jwks(self) -> dict[str, Any]:
        found = []
        for kid, key in self.keys.items():
            if kid not in self.published:
                continue
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            else:
                jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            found.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": found}

    def sign(self, kid: str, alg: str = "ES256", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "u-1",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "roles": ["reader"],
            "court": "cz-zy",
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    p.add("k1")
    yield p
    p.server.shutdown()
    p.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(url: str, **kw: Any) -> OidcSettings:
    return OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, **kw)


async def test_a_valid_token_gives_its_role_court_branch_and_subject(provider):
    verifier = OidcVerifier(settings(provider.url))
    who = await verifier.principal(provider.sign("k1"))
    assert (who.role, who.court, who.branch, who.subject) == ("reader", "cz-zy", None, "u-1")
    assert who.scopes == {READ_RANKINGS}
    token = provider.sign("k1", roles=["clerk"], branch="zy-civil-1", sub="m-7")
    who = await verifier.principal(token)
    assert (who.role, who.court, who.branch, who.scopes) == ("clerk", "cz-zy", "zy-civil-1", {WRITE_EVENTS})
    who = await verifier.principal(provider.sign("k1", roles="city_admin", court=None))
    assert who.city_wide and who.scopes == {ADMIN, READ_RANKINGS, WRITE_EVENTS}
    assert provider.hits == 1  # fetched once, then cached


async def test_claims_that_do_not_make_a_principal_are_refused(provider):
    verifier = OidcVerifier(settings(provider.url))
    for overrides, reason in [
        ({"roles": ["superuser"]}, "no role"),
        ({"roles": ["court_admin"], "court": None}, "court"),
        ({"roles": ["secretary"]}, "branch"),  # a branch role needs its branch
        ({"roles": 7}, "no role"),
    ]:
        with pytest.raises(Refused, match=reason):
            await verifier.principal(provider.sign("k1", **overrides))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -120}, "expired"),  # seconds from now, when the test runs
        ({"nbf": +120}, "not valid yet"),
        ({"iss": "https://evil.test/"}, "another issuer"),
        ({"aud": "another-app"}, "another audience"),
        ({"exp": None}, "lacks the claim exp"),
        ({"sub": None}, "lacks the claim sub"),
    ],
)
async def test_time_issuer_and_audience_are_checked(provider, overrides, reason):
    now = int(time.time())
    overrides = {k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in overrides.items()}
    with pytest.raises(Invalid, match=reason):
        await OidcVerifier(settings(provider.url)).principal(provider.sign("k1", **overrides))


async def test_a_small_clock_skew_is_tolerated(provider):
    verifier = OidcVerifier(settings(provider.url, leeway_s=30))
    await verifier.principal(provider.sign("k1", exp=int(time.time()) - 10))
    await verifier.principal(provider.sign("k1", nbf=int(time.time()) + 10))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_hmac_with_the_public_key_and_tampering_are_401(provider):
    verifier = OidcVerifier(settings(provider.url))
    good = provider.sign("k1")
    head, body, sig = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    raised = _b64({**claims, "roles": ["city_admin"]})
    unsigned = f"{_b64({'alg': 'none', 'kid': 'k1', 'typ': 'JWT'})}.{body}."
    public_pem = (
        provider.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # PyJWT itself refuses a PEM as an HMAC secret; sign by hand as an attacker would.
    hs_head = _b64({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    mac = hmac.new(public_pem, f"{hs_head}.{body}".encode(), hashlib.sha256).digest()
    hs = f"{hs_head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for token, reason in [
        (unsigned, "algorithm is not accepted"),
        (hs, "algorithm is not accepted"),
        (f"{head}.{raised}.{sig}", "signature"),
        (f"{head}.{body}.{flipped}", "signature"),
        ("a.b.c", "well-formed"),
    ]:
        with pytest.raises(Invalid, match=reason):
            await verifier.principal(token)


async def test_an_rsa_key_does_not_verify_an_ec_algorithm(provider):
    provider.add("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    verifier = OidcVerifier(settings(provider.url, algorithms=["RS256", "ES256"]))
    assert (await verifier.principal(provider.sign("rsa", alg="RS256"))).role == "reader"
    # The header claims ES256 but names the RSA key: refused before any signature check.
    forged = provider.sign("k1").split(".")
    head = _b64({"alg": "ES256", "kid": "rsa", "typ": "JWT"})
    with pytest.raises(Invalid, match="does not match its key"):
        await verifier.principal(f"{head}.{forged[1]}.{forged[2]}")


def test_settings_never_allow_none_or_hmac():
    for algs in (["none"], ["HS256"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError, match="never none or HS"):
            OidcSettings(issuer=ISSUER, jwks_url="file:x", algorithms=algs)


async def test_rotation_refetches_for_a_new_kid_at_most_once_per_interval(provider):
    clock = Clock()
    verifier = OidcVerifier(settings(provider.url, jwks_refetch_s=30), clock)
    await verifier.principal(provider.sign("k1"))
    provider.add("k2")
    provider.published.discard("k1")  # the provider rotates: k2 in, k1 out
    clock.now += 31
    assert (await verifier.principal(provider.sign("k2"))).role == "reader"
    assert provider.hits == 2
    # A flood of unknown key ids within the interval: one fetch at most, each answered 401.
    provider.add("k3")
    for _ in range(20):
        with pytest.raises(Invalid, match="key the provider does not publish"):
            await verifier.principal(provider.sign("k1"))
    assert provider.hits == 2  # k1 is gone and k2's fetch was 0 s ago: no new fetch yet
    clock.now += 31
    assert (await verifier.principal(provider.sign("k3"))).role == "reader"
    assert provider.hits == 3


async def test_an_away_provider_is_503_without_keys_and_harmless_with_them(provider):
    clock = Clock()
    provider.failing = True
    verifier = OidcVerifier(settings(provider.url, jwks_refetch_s=5, jwks_max_age_s=60), clock)
    with pytest.raises(Unavailable):
        await verifier.principal(provider.sign("k1"))
    clock.now += 6
    provider.failing = False
    token = provider.sign("k1")
    await verifier.principal(token)  # back: keys fetched
    provider.failing = True
    clock.now += 120  # the cache is old and the provider away: the cached keys stay in use
    assert (await verifier.principal(provider.sign("k1", sub="u-2"))).subject == "u-2"


async def test_an_unreachable_or_broken_jwks_url_never_raises_anything_else():
    for url in ("http://127.0.0.1:9/certs", "file:/nonexistent/jwks.json", "ftp://x/y"):
        verifier = OidcVerifier(settings(url, fetch_timeout_s=1))
        token = jwt.encode({"sub": "x"}, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": "k"})
        with pytest.raises(Unavailable):
            await verifier.principal(token)


async def test_a_file_jwks_url_works(provider, tmp_path):
    (tmp_path / "jwks.json").write_text(json.dumps(provider.jwks()))
    verifier = OidcVerifier(settings(f"file:{tmp_path}/jwks.json"))
    assert (await verifier.principal(provider.sign("k1"))).court == "cz-zy"


async def test_the_authenticator_answers_401_403_503_as_problems(provider):
    entry = TokenEntry(name="svc", sha256=token_hash("static-1"), scopes=[WRITE_EVENTS])
    auth = Authenticator(AuthSettings(tokens=[entry], oidc=settings(provider.url)))
    assert (await auth.authenticate("Bearer static-1")).city_wide  # static tokens keep their reach
    who = await auth.authorize_async(f"Bearer {provider.sign('k1')}", READ_RANKINGS)
    assert who.court == "cz-zy"
    assert auth.authorize(f"Bearer {provider.sign('k1')}", READ_RANKINGS).court == "cz-zy"  # cached key
    cases = [
        (provider.sign("k1", exp=int(time.time()) - 300), 401, "expired"),
        (provider.sign("k1", roles=["nobody"]), 403, "no role"),
        (provider.sign("k1"), 403, "lacks the scope events:write"),
    ]
    for token, status, reason in cases:
        with pytest.raises(Problem) as raised:
            await auth.authorize_async(f"Bearer {token}", WRITE_EVENTS)
        assert raised.value.status == status and reason in raised.value.detail, raised.value.detail
        assert token not in raised.value.detail
    away = Authenticator(AuthSettings(oidc=settings("http://127.0.0.1:9/certs", fetch_timeout_s=1)))
    with pytest.raises(Problem) as raised:
        await away.authenticate(f"Bearer {provider.sign('k1')}")
    assert raised.value.status == 503 and raised.value.headers["Retry-After"]


async def test_the_dev_issuer_mints_what_its_jwks_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("OIDC_AUDIENCE", AUDIENCE)
    jwks = dev_issuer.ensure(tmp_path)
    first = (tmp_path / "signing-key.pem").read_bytes(), jwks.read_bytes()
    assert dev_issuer.ensure(tmp_path) == jwks  # idempotent: the same key and JWKS
    assert ((tmp_path / "signing-key.pem").read_bytes(), jwks.read_bytes()) == first
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o077 == 0
    token = dev_issuer.mint(["secretary"], "cz-zy", "zy-civil-1", "m-1", 3600, home=tmp_path)
    who = await OidcVerifier(settings(f"file:{jwks}")).principal(token)
    assert (who.role, who.court, who.branch, who.subject) == ("secretary", "cz-zy", "zy-civil-1", "m-1")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert 3500 < exp - time.time() <= 3600


async def test_a_verified_token_is_remembered_until_its_expiry(provider, monkeypatch):
    now = [time.time()]
    verifier = OidcVerifier(settings(provider.url, leeway_s=30), wall=lambda: now[0])
    decoded = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **kw: decoded.append(1) or real(*a, **kw))
    token = provider.sign("k1", exp=int(now[0]) + 60)
    first = await verifier.principal(token)
    assert await verifier.principal(token) == first and verifier.principal_cached(token) == first
    assert len(decoded) == 1  # checked once
    now[0] += 60 + 31  # past exp and the leeway: forgotten, checked again
    await verifier.principal(token)
    assert len(decoded) == 2
