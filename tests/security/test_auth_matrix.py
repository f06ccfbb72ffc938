"""Every documented operation of every service against no token, wrong tokens, a token without the
scope and the right token, over real HTTP; the public routes are named one by one with the reason."""

import base64
import re
from collections.abc import Iterator

import httpx
import pytest

from shared.auth import SCOPES, token_hash
from tests.conftest import URLS, new_id
from tests.security.live import (
    BOARD_PAGES,
    PUBLIC_EXTRAS,
    PUBLIC_OPERATIONS,
    SERVICES,
    WORKER_PUBLIC,
    Operation,
    assert_no_leak,
    assert_problem,
    bearer,
    operations,
    token_scopes,
)

each_service = pytest.mark.parametrize("service", SERVICES)


def protected(service: str) -> Iterator[Operation]:
    return (op for op in operations(service) if op.scope is not None)


def query_of(op: Operation) -> dict[str, str]:
    """Each required query parameter at its documented example, in a year nobody writes: these are
    read-only look-ups, and an empty year answers fastest."""
    return {
        p["name"]: re.sub(r"^20[0-9]{2}", "1999", p["schema"]["examples"][0])
        for p in op.spec.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


def holders(op: Operation) -> list[str]:
    """The demo tokens whose scopes include the one `op` needs."""
    return [name for name, held in token_scopes().items() if op.scope in held]


def call(op: Operation, headers: dict[str, str], content: bytes = b"{}") -> httpx.Response:
    """One request to `op` with fresh ids in its path; a stream is closed once its headers are in."""
    path = re.sub(r"\{[^}]+\}", lambda _: new_id("sec-auth"), op.path)
    body = content if "requestBody" in op.spec else None
    sent = {**headers, "content-type": "application/json"} if body is not None else headers
    with httpx.Client(base_url=URLS[op.service], timeout=30) as client:
        request = client.build_request(op.method, path, params=query_of(op), headers=sent, content=body)
        response = client.send(request, stream=True)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        response.close()
        return response


@each_service
def test_every_operation_is_public_on_purpose_or_names_a_known_scope(service):
    for op in operations(service):
        if op.scope is None:
            assert (op.method, op.path) in PUBLIC_OPERATIONS, f"{op} needs no token: say why or protect it"
        else:
            assert op.scope in SCOPES, op


@each_service
def test_no_token_or_another_scheme_is_401(service, tokens):
    basic = base64.b64encode(f"user:{tokens['admin']}".encode()).decode()
    for op in protected(service):
        for headers in (
            {},
            {"Authorization": f"Basic {basic}"},
            {"Authorization": "Bearer"},
            {"X-Token": "x"},
        ):
            body = assert_problem(call(op, headers), 401)
            assert "Bearer" in body["detail"], (op, body)
        assert call(op, {}).headers["www-authenticate"] == "Bearer", op


@each_service
def test_a_wrong_token_is_401_and_never_echoed(service, tokens):
    admin = tokens["admin"]
    wrong = [
        new_id("not-a-token"),
        admin + "x",
        admin[:-1],
        token_hash(admin),  # the services hold hashes: a hash must not work as the token
        "x" * 8000,
    ]
    for op in protected(service):
        for token in wrong:
            response = call(op, bearer(token))
            assert_problem(response, 401)
            assert "invalid_token" in response.headers["www-authenticate"], op
            assert token[:40] not in response.text, (op, "the presented token is echoed")


@each_service
def test_a_token_without_the_scope_is_403_naming_it(service, tokens):
    scopes = token_scopes()
    for op in protected(service):
        lacking = [name for name, held in scopes.items() if op.scope not in held]
        for name in lacking:
            body = assert_problem(call(op, bearer(tokens[name])), 403)
            assert op.scope in body["detail"], (op, name, body)
            assert tokens[name] not in str(body)


@each_service
def test_the_right_token_gets_past_authentication(service, tokens):
    for op in protected(service):
        for name in holders(op):
            response = call(op, bearer(tokens[name]))
            assert response.status_code not in (401, 403), (op, name, response.text[:300])
            assert response.status_code < 500, (op, name, response.text[:300])
            if op.method == "GET" and "{" not in op.path:
                assert response.status_code == 200, (op, name, response.text[:300])


@each_service
def test_scheme_and_token_are_read_as_rfc_6750_says(service, tokens):
    """The scheme is case-insensitive and blanks around the token are not part of it (shown on one
    operation that takes a body: the empty body answers 422 at once, without any database work)."""
    for op in [next(op for op in protected(service) if "requestBody" in op.spec)]:
        token = tokens[holders(op)[0]]
        for header in (f"bearer {token}", f"BEARER  {token}"):
            response = call(op, {"Authorization": header})
            assert response.status_code not in (401, 403), (op, header[:8], response.text[:300])


@each_service
def test_the_token_is_checked_before_the_body_is_read(service):
    """An anonymous caller gets 401 for a broken body too: no JSON is parsed for it."""
    for op in protected(service):
        if "requestBody" in op.spec:
            assert_problem(call(op, {}, content=b'{"member_id": '), 401)
            assert_problem(call(op, {}, content=b"[" * 50_000), 401)


@each_service
def test_public_routes_answer_without_a_token(service):
    with httpx.Client(base_url=URLS[service], timeout=30) as client:
        for method, path in PUBLIC_OPERATIONS:
            response = client.request(method, path)
            assert response.status_code in (200, 503), (path, response.text[:300])  # 503: a dependency down
            assert_no_leak(response)
        for path in PUBLIC_EXTRAS:
            assert client.get(path).status_code == 200, path
        for path in BOARD_PAGES:
            expected = 200 if service == "scoring" else 404
            assert client.get(path).status_code == expected, path


@each_service
def test_unknown_routes_and_methods_are_problems(service):
    with httpx.Client(base_url=URLS[service], timeout=30) as client:
        assert_problem(client.get("/v1/nothing-here"), 404)
        assert_problem(client.get("/board/static/../../../etc/passwd"), 404)
        assert_problem(client.get("/board/static/%2e%2e/%2e%2e/etc/passwd"), 404)
        assert_problem(client.delete("/healthz"), 405)


def test_the_worker_serves_health_and_metrics_publicly():
    """Its faust web server; it listens on loopback only (WorkerSettings.web_host)."""
    with httpx.Client(base_url=URLS["worker"], timeout=30) as client:
        for path in WORKER_PUBLIC:
            assert client.get(path).status_code in (200, 503), path
