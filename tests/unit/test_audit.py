"""The audit event and its hook in process: ids only (no token, name or reason), the caller's
request id or a fresh one, 503 with nothing changed when the trail cannot be written; the API's
index: newest first, filtered, paged with a cursor, bounded."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
import pytest
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.testclient import TestClient

from services.scoring.api import audit as audit_api
from services.scoring.api.audit import AuditIndex
from shared.audit import AUDIT, EVENT_TYPE, Auditor, AuditRecorded, audit, decode, envelope
from shared.auth import (
    Admin,
    Authenticator,
    AuthFirstRoute,
    AuthSettings,
    CourtOf,
    RecordWriter,
    TokenEntry,
    token_hash,
)
from shared.kafka import BrokerUnavailable
from shared.principal import ADMIN, WRITE_EVENTS
from shared.problems import install

TOKEN = "audit-unit-token-5e1f0a"
NAME = "审计单元测试支部 secret-branch-name"
REASON = "secret-reason-of-the-void"


class Published:
    """Stands in for KafkaPublisher: keeps what was written, or fails like a broker away."""

    def __init__(self, fail: bool = False):
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.fail = fail

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: object = None
    ) -> tuple[int, int]:
        if self.fail:
            raise BrokerUnavailable("cannot reach Kafka: KafkaConnectionError")
        self.records.append((topic, key, value))
        return 0, len(self.records) - 1


class Registry(CourtOf):
    async def court_of(self, branch_id: str) -> str | None:
        return {"a1": "A"}.get(branch_id)


def app_with(published: Published) -> tuple[TestClient, dict[str, dict]]:
    """A registry PUT and a void, audited as the real routes are, over an in-memory registry."""
    app = FastAPI()
    entry = TokenEntry(
        name="court-a-admin", sha256=token_hash(TOKEN), scopes=[ADMIN, WRITE_EVENTS], court="A"
    )
    app.state.authenticator = Authenticator(AuthSettings(tokens=[entry]))
    app.state.org = Registry()
    auditor = Auditor(published, None, "scoring-api")  # type: ignore[arg-type]
    auditor._ready = True  # the topic: Kafka's business, not this test's
    app.state.auditor = auditor
    install(app)
    changed: dict[str, dict] = {}
    router = APIRouter(route_class=AuthFirstRoute)

    @router.put("/v1/branches/{branch_id}")
    async def put(branch_id: str, body: Annotated[dict, Body()], request: Request, who: Admin) -> dict:
        await audit(request, who, "branch.put", branch_id, body["court"], branch_id)
        changed[branch_id] = body
        return body

    @router.post("/v1/records/{event_id}:void")
    async def void(event_id: str, body: Annotated[dict, Body()], request: Request, who: RecordWriter) -> dict:
        await audit(request, who, "record.void", event_id, branch="a1")
        changed[event_id] = body
        return {}

    app.include_router(router)
    return TestClient(app), changed


def headers(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **extra}


def test_a_put_and_a_void_are_audited_with_ids_only():
    published = Published()
    client, changed = app_with(published)
    body = {"name": NAME, "court": "A", "members": 3}
    assert (
        client.put("/v1/branches/a1", json=body, headers=headers(**{"X-Request-ID": "req-1"})).status_code
        == 200
    )
    assert client.post("/v1/records/r-1:void", json={"reason": REASON}, headers=headers()).status_code == 200
    assert set(changed) == {"a1", "r-1"}
    (topic, key, put), (_, _, voided) = published.records
    assert topic == AUDIT.name and key == b"audit"
    for raw in (put, voided):
        text = raw.decode()
        assert TOKEN not in text and token_hash(TOKEN) not in text
        assert "secret" not in text and NAME not in text and REASON not in text
        assert orjson.loads(raw)["type"] == EVENT_TYPE
    _, event = decode(put)
    assert (event.actor, event.role, event.action, event.target) == (
        "court-a-admin",
        "static",
        "branch.put",
        "a1",
    )
    assert (event.court, event.branch, event.actor_court, event.request_id) == ("A", "a1", "A", "req-1")
    _, event = decode(voided)
    assert (event.action, event.target, event.court, event.branch) == ("record.void", "r-1", "A", "a1")
    assert len(event.request_id) == 32  # none given: one made here


def test_a_move_between_courts_names_both():
    published = Published()
    client, _ = app_with(published)
    body = {"name": NAME, "court": "B", "members": 3}
    assert client.put("/v1/branches/a1", json=body, headers=headers()).status_code == 200
    _, event = decode(published.records[0][2])
    assert (event.court, event.from_court, event.branch) == ("B", "A", "a1")
    index = AuditIndex()
    index.add(0, 0, published.records[0][2])
    assert len(index.page(10, court="A")[0]) == len(index.page(10, court="B")[0]) == 1
    assert index.page(10, court="C")[0] == []


def test_a_hostile_request_id_is_replaced():
    published = Published()
    client, _ = app_with(published)
    client.post(
        "/v1/records/r-2:void", json={"reason": "x"}, headers=headers(**{"X-Request-ID": "a b\tc" * 10})
    )
    _, event = decode(published.records[0][2])
    assert " " not in event.request_id and len(event.request_id) == 32


def test_no_trail_no_change():
    client, changed = app_with(Published(fail=True))
    response = client.put(
        "/v1/branches/a1", json={"name": NAME, "court": "A", "members": 3}, headers=headers()
    )
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert "audit" in response.json()["detail"] and changed == {}


def test_the_event_model_refuses_what_is_not_an_id():
    good = dict(
        actor="oidc:m-1", role="member", scopes=[], action="record.void", target="r-1",
        time=datetime.now(UTC), request_id="abc", source="volunteer",
    )  # fmt: skip
    AuditRecorded.model_validate(good)
    for field, value in [("target", NAME), ("action", "Void!"), ("request_id", "a b"), ("extra", "x")]:
        with pytest.raises(ValueError):
            AuditRecorded.model_validate({**good, field: value})
    with pytest.raises(ValueError):
        decode(b'{"type": "something.else", "data": {}}')
    later = orjson.loads(envelope(AuditRecorded.model_validate(good), "e1"))
    later["data"]["added_later"] = "x"  # a newer writer's field: an older reader keeps the event
    assert decode(orjson.dumps(later)) == ("e1", AuditRecorded.model_validate(good))


def event(i: int, court: str | None = "A", actor: str = "alice", action: str = "branch.put") -> bytes:
    at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
    recorded = AuditRecorded(
        actor=actor, role="court_admin", scopes=[ADMIN], actor_court=court, court=court,
        action=action, target=f"t-{i}", time=at, request_id=f"r{i}", source="scoring-api",
    )  # fmt: skip
    return envelope(recorded, f"e{i}")


def targets(entries: list) -> list[str]:
    return [e.event.target for e in entries]


def test_the_index_pages_newest_first_with_a_cursor():
    index = AuditIndex()
    for i in [3, 1, 2, 0, 4]:  # out of order across partitions
        index.add(i % 2, i, event(i))
    index.add(0, 4, event(4))  # read again: kept once
    first, cursor = index.page(2)
    assert targets(first) == ["t-4", "t-3"] and cursor
    second, cursor = index.page(2, tuple(int(x) for x in cursor.split("-")))  # type: ignore[arg-type]
    assert targets(second) == ["t-2", "t-1"] and cursor
    third, cursor = index.page(2, tuple(int(x) for x in cursor.split("-")))  # type: ignore[arg-type]
    assert targets(third) == ["t-0"] and cursor is None


def test_the_index_filters():
    index = AuditIndex()
    for i in range(10):
        index.add(0, i, event(i, court="A" if i % 2 else "B", actor="bob" if i == 3 else "alice"))
    index.add(0, 10, event(10, court=None, action="rescore.start"))
    assert targets(index.page(100, court="B")[0]) == ["t-8", "t-6", "t-4", "t-2", "t-0"]
    assert targets(index.page(100, actor="bob")[0]) == ["t-3"]
    assert targets(index.page(100, target="t-7")[0]) == ["t-7"]
    assert targets(index.page(100, action="rescore.start")[0]) == ["t-10"]
    since = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=8)
    assert targets(index.page(100, since=since)[0]) == ["t-10", "t-9", "t-8"]
    index.add(0, 11, b'{"not": "an audit event"}')
    assert len(index) == 11


def test_the_index_is_bounded_and_a_page_scans_a_bounded_stretch(monkeypatch):
    monkeypatch.setattr(audit_api, "SCAN_LIMIT", 50)
    index = AuditIndex(max_events=100)
    for i in range(105):
        index.add(0, i, event(i))
    assert len(index) <= 100 and targets(index.page(1)[0]) == ["t-104"]
    many = AuditIndex()
    many.add(0, 0, event(0, actor="rare"))
    for i in range(1, 60):
        many.add(0, i, event(i))
    found, cursor = many.page(10, actor="rare")
    assert found == [] and cursor is not None  # a short page, and where to go on
    found, cursor = many.page(10, tuple(int(x) for x in cursor.split("-")), actor="rare")  # type: ignore[arg-type]
    assert targets(found) == ["t-0"] and cursor is None
