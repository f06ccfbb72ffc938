"""No secret in the running system's logs, metrics or error bodies (this module runs after the rest of
tests/security, so the logs hold whatever the attacks made the services write)."""

import re
import uuid

import httpx
import pytest

from tests.conftest import INSTANCE, ROOT, URLS
from tests.security.live import SERVICES, bearer

LOGS = sorted(INSTANCE.log.glob("**/*.log"))  # the logs of the copy the tests run against
MONGO_CREDENTIALS = re.compile(r"mongodb(\+srv)?://[^\s/@:]+:[^\s/@]*@")
# Kafka logs its whole configuration at start; a password key there is harmless while its value is
# null or masked. Any other line that says password is a finding.
PASSWORD_KEY = re.compile(r"^\s*[\w.]*password = (null|\[hidden\])\s*$", re.IGNORECASE)
CANARY = f"canary-{uuid.uuid4().hex}"  # a token no service knows: it must not be written anywhere


def findings(text: str, secrets: list[str]) -> list[str]:
    """Lines of `text` that hold a secret, a password or MongoDB credentials."""
    found = []
    for line in text.splitlines():
        if any(s in line for s in secrets) or MONGO_CREDENTIALS.search(line):
            found.append(line[:200])
        elif "password" in line.lower() and not PASSWORD_KEY.match(line):
            found.append(line[:200])
    return found


@pytest.fixture(scope="module")
def secrets(tokens) -> list[str]:
    """The demo tokens, and a canary token presented to every service first."""
    for service in (*SERVICES, "worker"):
        for path in ("/v1/rankings?period=1999", "/v1/deployments", "/metrics"):
            httpx.get(f"{URLS[service]}{path}", headers=bearer(CANARY), timeout=30)
    return [*tokens.values(), CANARY]


def test_logs_hold_no_token_password_or_credentials(secrets):
    assert LOGS, f"no logs under {INSTANCE.log}: is the system running from this checkout?"
    for log in LOGS:
        assert findings(log.read_text(errors="replace"), secrets) == [], log.relative_to(ROOT)


@pytest.mark.parametrize("service", [*SERVICES, "worker"])
def test_metrics_hold_no_secret_and_no_raw_path(service, secrets):
    text = httpx.get(f"{URLS[service]}/metrics", timeout=30).text
    assert findings(text, secrets) == []
    # Labels carry route templates: ids, operators and traversal attempts from the attacks never appear.
    assert re.search(r"sec-(hostile|auth)|\$where|\.\./|passwd|canary", text) is None


@pytest.mark.parametrize("service", SERVICES)
def test_error_bodies_never_echo_the_authorization_header(service, tokens):
    resource = {"scoring": "/v1/branches/x", "volunteer": "/v1/deployments"}.get(service, "/v1/nothing")
    with httpx.Client(base_url=URLS[service], timeout=60) as client:
        for token in tokens.values():
            responses = [
                client.put(resource, content=b"{", headers=bearer(token)),
                client.post(resource, content=b"{", headers=bearer(token)),
                client.get("/v1/nothing", headers=bearer(token)),
                client.post(resource, content=b"x" * (5 * 1024 * 1024), headers=bearer(token)),
            ]
            for response in responses:
                assert response.status_code >= 400, response.text[:300]
                shown = response.text + str(response.headers)
                assert token not in shown and "Bearer" not in response.text.replace("Bearer <token>", "")


def test_the_log_scan_can_fail():
    """The checks above would catch a token, a password or credentials if one were written."""
    log = "INFO token=demo-x\nmongodb://app:s3cret@db:27017/\nconnecting with password hunter2\n"
    assert len(findings(log, ["demo-x"])) == 3
    assert findings("\tssl.key.password = null\n\tsasl.jaas.config = [hidden]\n", ["demo-x"]) == []
