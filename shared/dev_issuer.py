"""The development sign-on issuer: a key pair and its JWKS under var/oidc/ (made once by `make up`),
and tokens signed with it that the local services accept (deploy/local/dev.env trusts it).

Never for production: whoever can read var/oidc/signing-key.pem can sign in as anyone."""

import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "var" / "oidc"
KEY = HOME / "signing-key.pem"
JWKS = HOME / "jwks.json"
DEV_ENV = ROOT / "deploy" / "local" / "dev.env"
ALGORITHM = "ES256"


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written whole or not at all (a reader never sees half a key)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


def ensure(home: Path = HOME) -> Path:
    """The dev key pair and its JWKS, made if absent (idempotent: an existing key is kept, so tokens
    minted earlier stay valid); returns the JWKS path."""
    key_path, jwks_path = home / KEY.name, home / JWKS.name
    home.mkdir(parents=True, exist_ok=True)
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(key_path, pem, 0o600)
    key = _load(key_path)
    jwks = {"keys": [public_jwk(key, _kid(key))]}
    if not jwks_path.exists() or json.loads(jwks_path.read_text()) != jwks:
        _write(jwks_path, json.dumps(jwks, indent=1).encode(), 0o644)
    return jwks_path


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path.name} is not an EC key")
    return key


def _kid(key: ec.EllipticCurvePrivateKey) -> str:
    """A key id from the public key itself (RFC 7638 thumbprint), so the same key has the same id."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _setting(name: str) -> str:
    """An OIDC_* setting: the environment's, else deploy/local/dev.env's (what the services read)."""
    if os.environ.get(name):
        return os.environ[name]
    for line in DEV_ENV.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    sys.exit(f"{name} is not set (deploy/local/dev.env configures the dev issuer)")


def claims(
    roles: list[str], court: str | None, branch: str | None, subject: str | None, ttl_s: int, now: float
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "iss": _setting("OIDC_ISSUER"),
        "aud": _setting("OIDC_AUDIENCE"),
        "sub": subject or f"dev-{uuid.uuid4().hex[:12]}",
        "roles": roles,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + ttl_s,
    }
    if court:
        found["court"] = court
    if branch:
        found["branch"] = branch
    return found


def mint(
    roles: list[str],
    court: str | None,
    branch: str | None,
    subject: str | None,
    ttl_s: int = 3600,
    home: Path = HOME,
) -> str:
    """A token from the dev issuer, valid `ttl_s` seconds (the key is made if absent)."""
    ensure(home)
    key = _load(home / KEY.name)
    payload = claims(roles, court, branch, subject, ttl_s, time.time())
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": _kid(key)})


if __name__ == "__main__":
    print(ensure().relative_to(ROOT))
