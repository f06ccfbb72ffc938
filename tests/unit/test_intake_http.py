"""Intake HTTP validation and auth, answered before any broker or database is touched."""

import pytest
from fastapi.testclient import TestClient

from services.liaison.app import LiaisonSettings
from services.liaison.app import create_app as liaison_app
from services.training.app import TrainingSettings
from services.training.app import create_app as training_app
from services.volunteer.app import VolunteerSettings
from services.volunteer.app import create_app as volunteer_app
from shared.auth import AuthSettings, TokenEntry, token_hash

TOKENS = {"writer": "w-token", "reader": "r-token"}
AUTH = AuthSettings(
    tokens=[
        TokenEntry(name="w", sha256=token_hash("w-token"), scopes=["events:write"]),
        TokenEntry(name="r", sha256=token_hash("r-token"), scopes=["rankings:read"]),
    ]
)
APPS = {
    "deployments": volunteer_app(VolunteerSettings(auth=AUTH, max_body_bytes=10_000)),
    "contacts": liaison_app(LiaisonSettings(auth=AUTH)),
    "completions": training_app(TrainingSettings(auth=AUTH)),
}
ROUTES = [(r, suffix) for r in APPS for suffix in ("", ":batch", "/some-id:void")]


def post(resource, body, token="w-token", suffix="", headers=None):
    client = TestClient(APPS[resource], raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/v1/{resource}{suffix}", json=body, headers={**auth, **(headers or {})})


@pytest.mark.parametrize(("resource", "suffix"), ROUTES)
def test_write_routes_refuse_missing_token(resource, suffix):
    r = post(resource, {}, token=None, suffix=suffix)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("resource", "suffix"), ROUTES)
def test_write_routes_refuse_wrong_token_and_reader_token(resource, suffix):
    assert post(resource, {}, token="nope", suffix=suffix).status_code == 401
    r = post(resource, {}, token="r-token", suffix=suffix)
    assert r.status_code == 403
    assert "events:write" in r.json()["detail"]


def fields(response):
    return {e["field"] for e in response.json()["errors"]}


def test_deployment_errors_name_every_invalid_field():
    r = post(
        "deployments",
        {
            "member_id": "m 1",
            "branch_id": "b1",
            "kind": "picnic",
            "started_at": "2022-03-12T09:00:00",
            "hours": 25,
            "place": "",
            "colour": "red",
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert fields(r) == {"member_id", "kind", "started_at", "hours", "place", "colour"}


def test_hours_must_be_positive():
    r = post("deployments", {"hours": 0})
    assert "hours" in fields(r)


def test_contact_with_wrong_credit_code_check_character():
    body = {
        "member_id": "m1",
        "branch_id": "b1",
        "kind": "visit",
        "channel": "offline",
        "enterprise": {"name": "Cangzhou Steel", "credit_code": "91350100M000100Y44"},
        "occurred_at": "2022-03-12T09:00:00+08:00",
    }
    r = post("contacts", body)
    assert r.status_code == 422
    assert fields(r) == {"enterprise.credit_code"}
    assert "expected '3'" in r.json()["errors"][0]["message"]


def test_completion_kind_and_score_range():
    body = {
        "member_id": "m1",
        "branch_id": "b1",
        "kind": "karaoke",
        "session_id": "s1",
        "completed_at": "2022-03-12T09:00:00+08:00",
        "score": 101,
    }
    assert fields(post("completions", body)) == {"kind", "score"}


def test_malformed_ids_are_rejected_in_body_header_and_path():
    assert "id" in fields(post("deployments", {"id": "$where"}))
    r = post("deployments", {}, headers={"Idempotency-Key": "a b"})
    assert r.status_code == 422
    r = post("deployments", {"reason": "x"}, suffix="/%24gt:void")
    assert r.status_code == 422


def test_oversized_body_names_the_limit():
    r = post("deployments", {"note": "x" * 20_000})
    assert r.status_code == 413
    assert "10000 bytes" in r.json()["detail"]


def test_batch_over_500_items_is_rejected():
    r = post("deployments", {"items": [{}] * 501}, suffix=":batch")
    assert r.status_code == 422


def test_malformed_json_is_a_4xx_problem():
    client = TestClient(APPS["deployments"])
    r = client.post(
        "/v1/deployments",
        content=b'{"member_id": ',
        headers={"Authorization": "Bearer w-token", "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
