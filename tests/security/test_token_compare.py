"""Token comparison is constant-time by construction: fixed-length digests, hmac.compare_digest against
every configured entry, no early exit. Spies on the comparison, so `==` or a `break` would fail here."""

import hashlib

import pytest

from shared import auth
from shared.auth import Authenticator, AuthSettings, TokenEntry, token_hash

TOKENS = [f"token-{i}" for i in range(5)]
SETTINGS = AuthSettings(tokens=[TokenEntry(name=t, sha256=token_hash(t), scopes=["admin"]) for t in TOKENS])


@pytest.fixture
def comparisons(monkeypatch) -> list[tuple[bytes, bytes]]:
    seen: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    return seen


@pytest.mark.parametrize("presented", [TOKENS[0], TOKENS[-1], "unknown", "", "x" * 10_000])
def test_every_entry_is_compared_whichever_matches(comparisons, presented):
    found = Authenticator(SETTINGS).identify(presented)
    assert (found.name if found else None) == (presented if presented in TOKENS else None)
    assert len(comparisons) == len(TOKENS)  # no early exit on a match
    digest = hashlib.sha256(presented.encode()).digest()
    for a, b in comparisons:
        assert a == digest and len(a) == len(b) == 32  # digests, never the raw token: length says nothing


def test_authorize_goes_through_the_constant_time_comparison(comparisons):
    entry = Authenticator(SETTINGS).authorize(f"Bearer {TOKENS[2]}", "admin")
    assert entry.name == TOKENS[2] and len(comparisons) == len(TOKENS)
