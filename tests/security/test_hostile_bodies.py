"""Hostile bodies on every write route: a 4xx with a reason, never a 5xx or a trace, and nothing kept.

Every hostile record carries this module's marker, and is otherwise valid with an id of its own: if a
service kept one, its receipt answers a void (not 404), and it shows up on Kafka after the module's
start offsets. One valid record with the marker is the control that proves the Kafka check can fail.
"""

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import URLS
from tests.security import published
from tests.security.hostile import BRANCH, BRANCH_CASES, CASES, EXAMINATION, MARK, RESOURCES, Hostile, record
from tests.security.live import assert_problem, bearer, operations


@pytest.fixture(scope="module")
async def before() -> published.Offsets:
    return await published.end_offsets()


@pytest.fixture(scope="module")
def client(tokens) -> Iterator[httpx.Client]:
    with httpx.Client(headers=bearer(tokens["writer"]), timeout=60) as c:
        yield c


def test_every_write_route_of_the_intake_services_is_attacked():
    attacked = {(h.stream, h.path) for h in CASES if ":void" not in h.suffix}
    for stream, resource in RESOURCES.items():
        resources = (resource, *(EXAMINATION if stream == "training" else ()))
        for op in operations(stream):
            if op.method == "POST" and "{" not in op.path:
                assert (stream, op.path) in attacked, op
            elif op.method == "POST":  # a void's body is attacked by voids(); :approve and :decline
                # take the same body (VoidRequest); evidence takes bytes, judged by their content
                verbs = (":void", ":approve", ":decline", "/evidence")
                assert op.path in {f"/v1/{r}/{{event_id}}{v}" for r in resources for v in verbs}, op


@pytest.mark.parametrize("case", CASES, ids=[f"{h.stream}: {h.name}" for h in CASES])
def test_hostile_body_is_refused_with_a_reason(case: Hostile, client, before):
    url = f"{URLS[case.stream]}{case.path}"
    headers = {"content-type": "application/json", **case.headers}
    response = client.post(url, content=case.body, headers=headers)
    if case.statuses == (200,):  # a batch answers per item: every item refused, with its reason
        assert response.status_code == 200, response.text[:500]
        assert response.json()["accepted"] == 0, response.text[:500]
        assert all(r["status"] == 422 and r["errors"] for r in response.json()["results"])
        return
    body = assert_problem(response, *case.statuses)
    assert "\x00" not in response.text and "$where" not in body["detail"], body
    if case.void_id:
        void = client.post(f"{url}/{case.void_id}:void", json={"reason": "security test"})
        assert void.status_code == 404, f"a receipt was kept for {case.name}: {void.text[:300]}"


@pytest.mark.parametrize(("name", "changes", "status"), BRANCH_CASES, ids=[c[0] for c in BRANCH_CASES])
def test_hostile_branch_registration_is_refused(name, changes, status, tokens):
    url = f"{URLS['scoring']}/v1/branches/{MARK}-{name.replace(' ', '-').replace('*', '')}"
    body = json.dumps({**BRANCH, **changes}).encode()  # json.dumps escapes a lone surrogate
    headers = {**bearer(tokens["admin"]), "content-type": "application/json"}
    response = httpx.put(url, content=body, headers=headers, timeout=60)
    assert_problem(response, status)


def test_no_hostile_branch_was_registered(tokens):
    response = httpx.get(f"{URLS['scoring']}/v1/branches", headers=bearer(tokens["reader"]), timeout=60)
    assert [b["branch_id"] for b in response.json() if b["branch_id"].startswith(MARK)] == []


def test_control_record_is_accepted(client, before):
    """The one valid record with the marker: the Kafka check below must find it, or it proves nothing."""
    body = record("volunteer", id=f"{MARK}-control")
    response = client.post(f"{URLS['volunteer']}/v1/deployments", json=body)
    assert response.status_code == 202, response.text


async def test_nothing_hostile_reached_kafka(before):
    marked = [v for v in await published.values_since(before) if MARK.encode() in v]
    ids = [json.loads(v)["id"] for v in marked]
    assert ids == [f"{MARK}-control"], ids
