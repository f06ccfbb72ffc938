"""Every documented operation of every service against no token, wrong tokens, a token without the
scope and the right token, over real HTTP; the public routes are named one by one with the reason."""

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shared import dev_issuer
from shared.auth import CITY_REFERENCE, SCOPES, token_hash
from shared.principal import BRANCH_ROLES, ROLE_SCOPES, WRITE_EVENTS
from tests.conftest import URLS, new_id
from tests.security.closing_matrix import CLOSING_PATHS, check_closing
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
from tests.security.member_matrix import MEMBER_PATH, check_member_registry
from tests.security.reminder_matrix import SUBSCRIPTION_PATH, check_subscription
from tests.security.review_matrix import check_review_route, is_review_route

each_service = pytest.mark.parametrize("service", SERVICES)
# Reads that need one of two optional parameters (OpenAPI cannot say "exactly one of"): without
# either they answer 422 naming both, which is all an authorised bare call can show.
ONE_OF_REQUIRED = {"/v1/board/trend"}  # branch= or court=


def protected(service: str) -> Iterator[Operation]:
    return (op for op in operations(service) if op.scope is not None)


def query_of(op: Operation) -> dict[str, str]:
    """Each required query parameter at its documented example, in a year nobody writes: these are
    read-only look-ups, and an empty year answers fastest."""
    return {
        p["name"]: re.sub(r"^20[0-9]{2}", "1999", example_of(op, p))
        for p in op.spec.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


def example_of(op: Operation, parameter: dict[str, Any]) -> str:
    """A required parameter's documented example (a bare year parameter may go without one)."""
    schema = parameter["schema"]
    if examples := schema.get("examples") or parameter.get("examples"):
        return str(examples[0] if isinstance(examples, list) else next(iter(examples.values()))["value"])
    assert schema.get("pattern") == "^[0-9]{4}$", f"{op}: document an example of {parameter['name']}"
    return "1999"


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
            if op.method == "GET" and "{" not in op.path and op.path not in ONE_OF_REQUIRED:
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


# ---------------------------------------------------------------------------------------------
# Route × role × organisation: every protected operation of the live OpenAPI documents, called by
# each role (static demo tokens and sign-on tokens from the dev issuer) for its own branch, another
# branch of its own court, and a branch or the figures of another court.

OWN_MEMBER = "m-sec-org-self"


@dataclass(frozen=True)
class Org:
    """Two registered courts with their branches: A (the roles' own) and B (another)."""

    a: str
    b: str
    a1: str  # the branch-bound roles' own branch
    a2: str  # another branch of court A
    b1: str  # a branch of court B

    def court_of(self, branch: str) -> str:
        return self.b if branch == self.b1 else self.a


@dataclass(frozen=True)
class Role:
    """A caller: its token, its scopes and its reach (None: the city)."""

    name: str
    token: str
    scopes: frozenset[str]
    court: str | None = None
    branch: str | None = None

    def reaches(self, org: Org, court: str | None, branch: str | None, writing: bool) -> bool:
        """What shared/principal.py promises: the city reaches everything; a court its branches;
        a branch-bound role writes for its branch and reads its court."""
        if self.court is None:
            return True
        if branch is not None and writing and self.branch is not None:
            return branch == self.branch
        target = org.court_of(branch) if branch is not None else court
        return target in (None, self.court)


@pytest.fixture(scope="module")
def org(tokens) -> Org:
    response = httpx.get(f"{URLS['scoring']}/v1/courts", headers=bearer(tokens["reader"]), timeout=30)
    courts = [c for c in response.raise_for_status().json()["courts"] if len(c["branches"]) >= 2]
    assert len(courts) >= 2, "the registry needs two courts of two branches (make up loads the demo)"
    a, b = courts[0], courts[1]
    ids = [x["branch_id"] for x in a["branches"]]
    return Org(a["court"], b["court"], ids[0], ids[1], b["branches"][0]["branch_id"])


@pytest.fixture(scope="module")
def roles(org, tokens) -> list[Role]:
    found = [Role(f"demo-{name}", tokens[name], frozenset(scopes)) for name, scopes in token_scopes().items()]
    minted = [
        ("service", None, None, None),
        ("service", org.a, None, None),
        ("member", org.a, org.a1, OWN_MEMBER),
        ("clerk", org.a, org.a1, None),
        ("secretary", org.a, org.a1, None),
        ("court_admin", org.a, None, None),
        ("city_admin", None, None, None),
        ("reader", org.a, None, None),
        ("reader", None, None, None),
    ]
    for role, court, branch, subject in minted:
        token = dev_issuer.mint([role], court, branch, subject, 1800)
        name = f"{role}@{branch or court or 'city'}"
        found.append(Role(name, token, ROLE_SCOPES[role], court, branch if role in BRANCH_ROLES else None))
    return found


def timed_body(op: Operation, branch: str, member: str, year: str) -> dict[str, Any]:
    """The operation's documented example record for `branch` and `member`, timed in `year`."""
    example = next(iter(op.spec["requestBody"]["content"]["application/json"]["examples"].values()))
    record = example["value"]["items"][0] if ":batch" in op.path else example["value"]
    record = {k: v for k, v in record.items() if k != "id"}
    dated = {
        k: re.sub(r"^20[0-9]{2}-", f"{year}-", v) if isinstance(v, str) else v for k, v in record.items()
    }
    if isinstance(dated.get("year"), int):  # the yearly examination's records name their year
        dated["year"] = int(year)
    if "voter_id" in dated:  # a ballot: a member's own token casts its own (about any member)
        dated["voter_id"] = member
    return {**dated, "branch_id": branch, "member_id": member, "id": new_id("sec-org")}


def send(op: Operation, role: Role, path: str, params: dict[str, str], body: Any = None) -> httpx.Response:
    headers = bearer(role.token)
    content = None if body is None else json.dumps(body).encode()
    if content is not None:
        headers["content-type"] = "application/json"
    client = CLIENTS.get(op.service) or CLIENTS.setdefault(
        op.service, httpx.Client(base_url=URLS[op.service], timeout=60)
    )
    request = client.build_request(op.method, path, params=params, headers=headers, content=content)
    response = client.send(request, stream=True)
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        response.read()
    response.close()
    return response


CLIENTS: dict[str, httpx.Client] = {}  # one connection pool per service for the matrix's requests


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in CLIENTS.values():
        client.close()
    CLIENTS.clear()


def judge(op: Operation, role: Role, case: str, response: httpx.Response, allowed: bool) -> None:
    """Refused: 403 problem naming the missing scope or the organisation. Allowed: past both."""
    where = (str(op), role.name, case)
    if op.scope not in role.scopes:
        body = assert_problem(response, 403)
        assert op.scope in body["detail"], (where, body)
    elif not allowed:
        body = assert_problem(response, 403)
        assert re.search(r"court|branch|city|member", body["detail"]), (where, body)
        assert op.scope not in body["detail"], (where, body)
    else:
        assert response.status_code not in (401, 403), (where, response.text[:300])
        assert response.status_code < 500, (where, response.text[:300])


def year_out_of_window() -> str:
    return "2099"  # the intake refuses it (422) only after the organisation check: nothing is written


def record_cases(op: Operation, org: Org) -> list[tuple[str, str, str]]:
    """(case, branch, member) of a submission: own branch, own court, another court, another member."""
    return [
        ("own branch", org.a1, OWN_MEMBER),
        ("own court, another branch", org.a2, OWN_MEMBER),
        ("another court", org.b1, OWN_MEMBER),
        ("own branch, another member", org.a1, "m-sec-org-other"),
    ]


def check_submission(op: Operation, org: Org, role: Role) -> None:
    for case, branch, member in record_cases(op, org):
        record = timed_body(op, branch, member, year_out_of_window())
        batch = ":batch" in op.path
        response = send(op, role, op.path, {}, {"items": [record]} if batch else record)
        allowed = role.reaches(org, None, branch, writing=True) and not (
            role.name.startswith("member@") and member != OWN_MEMBER
        )
        if batch and op.scope in role.scopes:
            assert response.status_code == 200, (str(op), role.name, case, response.text[:300])
            (result,) = response.json()["results"]
            assert result["status"] == (422 if allowed else 403), (str(op), role.name, case, result)
            continue
        judge(op, role, case, response, allowed)
        if allowed and op.scope in role.scopes:  # refused for its time, past the organisation check
            assert response.status_code == 422 and "window" in response.text, (str(op), role.name, case)


def check_void(op: Operation, org: Org, role: Role, records: dict[str, str]) -> None:
    for case, branch in (("own branch", org.a1), ("own court", org.a2), ("another court", org.b1)):
        path = op.path.replace("{event_id}", records[branch])
        response = send(op, role, path, {}, {"reason": "authorisation matrix"})
        judge(op, role, case, response, role.reaches(org, None, branch, writing=True))
        if op.scope in role.scopes and role.reaches(org, None, branch, writing=True):
            assert response.status_code == 202, (str(op), role.name, case, response.text[:300])


def check_registry(op: Operation, org: Org, role: Role) -> None:
    cases = [
        ("new branch, own court", new_id("sec-org"), org.a),
        ("new branch, another court", new_id("sec-org"), org.b),
    ]
    if role.court is not None:  # a city-wide admin would really move it: asked of court-bound roles only
        cases.append(("another court's branch into its own", org.b1, org.a))
    for case, branch, court in cases:
        body = {"name": "矩阵测试支部 matrix", "court": court, "members": 3}
        response = send(op, role, op.path.replace("{branch_id}", branch), {}, body)
        allowed = role.court in (None, court) and (branch != org.b1 or role.court is None)
        judge(op, role, case, response, allowed)


def check_read(op: Operation, org: Org, role: Role) -> None:
    names = {p["name"] for p in op.spec.get("parameters", []) if p["in"] == "query"}
    base = query_of(op)
    cases: list[tuple[str, dict[str, str], str, str | None, str | None]] = []
    if "{branch_id}" in op.path:
        for case, branch in (("own branch", org.a1), ("own court", org.a2), ("another court", org.b1)):
            cases.append((case, base, op.path.replace("{branch_id}", branch), None, branch))
    else:
        if "court" in names:
            cases += [
                ("no court asked", base, op.path, None, None),
                ("own court", {**base, "court": org.a}, op.path, org.a, None),
                ("another court", {**base, "court": org.b}, op.path, org.b, None),
            ]
        if "branch" in names:
            cases += [
                ("own branch", {**base, "branch": org.a1}, op.path, None, org.a1),
                ("another court's branch", {**base, "branch": org.b1}, op.path, None, org.b1),
            ]
    if not cases:  # an answer for the whole city
        response = send(op, role, op.path, base)
        judge(op, role, "the city", response, role.court is None or (op.method, op.path) in CITY_REFERENCE)
        return
    for case, params, path, court, branch in cases:
        response = send(op, role, path, params)
        allowed = role.reaches(org, court, branch, writing=op.method != "GET")
        judge(op, role, case, response, allowed)
        if allowed and role.court and op.scope in role.scopes and response.status_code == 200:
            answered = response.json() if "json" in response.headers["content-type"] else {}
            if isinstance(answered, dict) and "court" in answered and branch is None:
                assert answered["court"] == role.court, (str(op), role.name, case, answered["court"])


@pytest.fixture(scope="module")
def records(org, tokens) -> dict[str, dict[str, str]]:
    """Per intake service, one record (2024) in each of a1, a2 and b1 to void, by the member."""
    found: dict[str, dict[str, str]] = {}
    writer = Role("demo-writer", tokens["writer"], frozenset({WRITE_EVENTS}))
    for service in SERVICES[1:]:
        submit = next(op for op in protected(service) if op.method == "POST" and ":" not in op.path)
        found[service] = {}
        for branch in (org.a1, org.a2, org.b1):
            response = send(submit, writer, submit.path, {}, timed_body(submit, branch, OWN_MEMBER, "2024"))
            assert response.status_code == 202, response.text[:300]
            found[service][branch] = response.json()["id"]
    return found


@each_service
def test_every_route_checks_scope_and_organisation_for_every_role(service, org, roles, records):
    for op in protected(service):
        for role in roles:
            if service != "scoring" and ":void" in op.path:
                check_void(op, org, role, records[service])
            elif service != "scoring" and is_review_route(op.path):
                check_review_route(op, org, role, records[service], judge)
            elif service != "scoring":
                check_submission(op, org, role)
            elif is_review_route(op.path):  # the review page's forwarding routes
                check_review_route(op, org, role, records["liaison"], judge)
            elif op.method == "PUT" and "{branch_id}" in op.path:
                check_registry(op, org, role)
            elif op.path == MEMBER_PATH:
                check_member_registry(op, org, role, send, judge)
            elif op.path == SUBSCRIPTION_PATH:
                check_subscription(op, org, role, send, judge)
            elif op.path.startswith(CLOSING_PATHS):
                check_closing(op, org, role, send, judge, OWN_MEMBER)
            else:
                check_read(op, org, role)


def test_a_court_reader_ranks_its_own_branches_only(org, roles):
    reader = next(r for r in roles if r.name == f"reader@{org.a}")
    with httpx.Client(base_url=URLS["scoring"], timeout=60) as client:
        own = client.get(
            "/v1/rankings", params={"period": "2024", "limit": 1000}, headers=bearer(reader.token)
        )
        tree = client.get("/v1/courts", headers=bearer(reader.token)).json()
    assert own.status_code == 200, own.text[:300]
    branches_of_a = {b["branch_id"] for c in tree["courts"] if c["court"] == org.a for b in c["branches"]}
    assert own.json()["court"] == org.a
    assert {row["branch_id"] for row in own.json()["rows"]} <= branches_of_a
