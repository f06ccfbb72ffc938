"""Injection attempts in the scoring API's query parameters and path ids: a 4xx problem, never a 5xx
or a trace, whatever the parameter holds."""

import httpx
import pytest

from tests.conftest import URLS
from tests.security.live import assert_problem, bearer

OPERATORS = ["$gt", '{"$gt": ""}', "$where", "$regex", "[$ne]=1"]
REGEX = [".*", "^2022", "2022|.*", "(a+)+$", "\\d{4}"]
TRAVERSAL = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f", "..\\..\\windows"]
NOISE = ["2022\x00", "2022\n", "2022'--", "2022; DROP", "٢٠٢٢", "２０２２", "9" * 10_000, "", " 2022"]
PERIODS = [*OPERATORS, *REGEX, *TRAVERSAL, *NOISE, "2022-Q5", "2022-13", "-2022", "20221"]
COURTS = [*OPERATORS, *REGEX, *TRAVERSAL, "a" * 200, "cz-zy\x00", "cz zy", "cz.zy", "ｃｚ-zy"]
DIMENSIONS = ["$gt", "__class__", "total\x00", "TOTAL", "points.total", "total;", ""]
LIMITS = ["-1", "0", "1001", "10" * 40, "1e3", "NaN", "Infinity", "0x10", "1.5", "", "$gt"]
# Reads that take each parameter, with valid values for the rest; years nobody writes, to stay cheap.
READS = {
    "period": [("/v1/rankings", {}), ("/v1/compliance", {}), ("/v1/branches/zy-civil-1/score", {})],
    "court": [("/v1/rankings", {"period": "1999"}), ("/v1/stats", {"from": "1999-01", "to": "1999-02"})],
    "dimension": [("/v1/rankings", {"period": "1999"})],
    "limit": [("/v1/rankings", {"period": "1999"})],
    "from": [("/v1/stats", {"to": "1999-02"})],
    "year": [("/v1/advanced-branches", {})],
}
VALUES = {
    "period": PERIODS,
    "court": COURTS,
    "dimension": DIMENSIONS,
    "limit": LIMITS,
    "from": PERIODS,
    "year": PERIODS,
}
BRANCH_IDS = [
    "%24where",
    "%7B%22%24gt%22%3A%22%22%7D",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "a%00b",
    "a" * 1000,
    ".*",
    "zy-civil-1%0A",
    "%EF%BD%9A%EF%BD%99",  # fullwidth zy
]


@pytest.fixture(scope="module")
def client(tokens):
    with httpx.Client(base_url=URLS["scoring"], headers=bearer(tokens["reader"]), timeout=60) as c:
        yield c


@pytest.mark.parametrize("param", list(READS))
def test_hostile_query_values_are_refused(client, param):
    for path, rest in READS[param]:
        for value in VALUES[param]:
            response = client.get(path, params={**rest, param: value})
            assert_problem(response, 422)


def test_repeated_and_bracketed_parameters_are_refused_or_ignored(client):
    # PHP/Express-style `period[$gt]=` is just an unknown parameter; period itself is then missing.
    assert_problem(client.get("/v1/rankings?period[$gt]="), 422)
    response = client.get("/v1/rankings?period=1999&period=$where")
    assert response.status_code in (200, 422) and response.status_code < 500, response.text[:300]


@pytest.mark.parametrize("branch_id", BRANCH_IDS)
def test_hostile_branch_ids_in_paths_are_refused(client, tokens, branch_id):
    assert_problem(client.get(f"/v1/branches/{branch_id}/score?period=1999"), 404, 422)
    body = {"name": "x", "court": "sec-court", "members": 1}
    put = client.put(f"/v1/branches/{branch_id}", json=body, headers=bearer(tokens["admin"]))
    assert_problem(put, 404, 405, 422)
