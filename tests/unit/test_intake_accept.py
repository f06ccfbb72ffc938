"""The intake use case with in-memory adapters: times outside the window name the model's own time
field, derived ids live in a namespace senders cannot take, Kafka's answer is counted in the intake
metrics, an id repeated within a batch is published once."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest

from services.liaison.app import LiaisonSettings
from services.liaison.app import create_app as liaison_app
from services.training.app import TrainingSettings
from services.training.app import create_app as training_app
from services.volunteer.app import VolunteerSettings
from services.volunteer.app import create_app as volunteer_app
from shared.audit import Auditor
from shared.auth import AuthSettings, CourtOf, TokenEntry, token_hash
from shared.contracts import (
    ID_PATTERN,
    RESERVED_ID_PREFIX,
    RecordVoided,
    Stream,
    TimeWindow,
    VolunteerDeployed,
)
from shared.intake.accept import Intake, derived_id, void_id
from shared.intake.receipts import MemoryReceiptStore
from shared.kafka import BrokerUnavailable, failure_reason
from tests.conftest import new_id

AUTH = AuthSettings(tokens=[TokenEntry(name="w", sha256=token_hash("w-token"), scopes=["events:write"])])
NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)
APPS = {
    "deployments": volunteer_app(VolunteerSettings(auth=AUTH)),
    "contacts": liaison_app(LiaisonSettings(auth=AUTH)),
    "completions": training_app(TrainingSettings(auth=AUTH)),
}


def record(resource: str, at: datetime) -> dict:
    """A valid record of the resource, timed `at`."""
    common = {"member_id": "m-1", "branch_id": "b-1"}
    return {
        "deployments": {**common, "kind": "legal_publicity", "hours": 2, "place": "Yunhe", "started_at": at},
        "contacts": {
            **common,
            "kind": "visit",
            "channel": "online",
            "enterprise": {"name": "Cangzhou Steel", "credit_code": "91350100M000100Y43"},
            "occurred_at": at,
        },
        "completions": {**common, "kind": "party_lecture", "session_id": "s-1", "completed_at": at},
    }[resource]


TIME_FIELDS = {"deployments": "started_at", "contacts": "occurred_at", "completions": "completed_at"}


def post(resource: str, body: dict, suffix: str = ""):
    client = TestClient(APPS[resource], raise_server_exceptions=False)
    return client.post(f"/v1/{resource}{suffix}", json=body, headers={"Authorization": "Bearer w-token"})


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


WINDOW = "1990-01-01T00:00:00+08:00 .. now + 10 minutes"
# Before the window, after it, and the two that have no UTC equivalent (they once answered 500).
OUTSIDE = [
    tomorrow(),
    "1989-12-31T23:59:59+08:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]


@pytest.mark.parametrize("at", OUTSIDE)
@pytest.mark.parametrize(("resource", "time_field"), TIME_FIELDS.items())
def test_a_record_outside_the_window_is_refused_naming_its_time_field(resource, time_field, at):
    r = post(resource, record(resource, at))  # refused before any receipt or publish
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": time_field, "message": f"must lie within {WINDOW}"}]
    shown = datetime.fromisoformat(at).isoformat()
    assert r.json()["detail"] == f"{time_field}: {shown} is outside the accepted window {WINDOW}"


@pytest.mark.parametrize("at", OUTSIDE)
@pytest.mark.parametrize(("resource", "time_field"), TIME_FIELDS.items())
def test_a_batch_item_outside_the_window_is_refused_naming_its_time_field(resource, time_field, at):
    r = post(resource, {"items": [record(resource, at)]}, suffix=":batch")
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert result["status"] == 422
    assert [e["field"] for e in result["errors"]] == [time_field]


@pytest.mark.parametrize("resource", TIME_FIELDS)
@pytest.mark.parametrize("reserved", ["sys-d-0123abcd", "sys-void-0123abcd", "sys-"])
def test_a_sender_id_in_the_reserved_namespace_is_refused_in_body_header_and_batch(resource, reserved):
    body = record(resource, NOW.isoformat())
    message = "Value error, must not start with 'sys-': reserved for the ids the service derives"
    r = post(resource, body | {"id": reserved})
    assert (r.status_code, r.json()["errors"]) == (422, [{"field": "id", "message": message}]), r.text
    client = TestClient(APPS[resource], raise_server_exceptions=False)
    headers = {"Authorization": "Bearer w-token", "Idempotency-Key": reserved}
    r = client.post(f"/v1/{resource}", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "header.Idempotency-Key", "message": message}]
    r = post(resource, {"items": [body | {"id": reserved}]}, suffix=":batch")
    (result,) = r.json()["results"]
    assert (result["status"], result["errors"]) == (422, [{"field": "id", "message": message}])


class FakePublisher:
    """Kafka as a list; `fail` makes every write fail like an unreachable broker."""

    def __init__(self, fail: BrokerUnavailable | None = None):
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail = fail

    async def publish_many(self, topic, records):
        if self.fail:
            raise self.fail
        self.sent += [(topic, k, v) for k, v in records]
        return [(0, i) for i in range(len(records))]


def intake(publisher: FakePublisher, service: str, receipts=None) -> Intake:
    return Intake(Stream.VOLUNTEER, service, receipts or MemoryReceiptStore(), publisher, lambda: NOW)


def deployment(at: datetime = NOW, **over) -> VolunteerDeployed:
    data = {"member_id": "m-1", "branch_id": "b-1", "kind": "legal_publicity", "hours": 2, "place": "Yunhe"}
    return VolunteerDeployed.model_validate({**data, "started_at": at, **over})


async def test_the_window_runs_from_1990_in_beijing_to_ten_minutes_ahead_of_the_clock():
    beijing_1990 = datetime(1990, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    times = [
        NOW + timedelta(minutes=10),
        NOW + timedelta(minutes=10, microseconds=1),
        beijing_1990,
        beijing_1990 - timedelta(microseconds=1),
    ]
    outcomes = await intake(FakePublisher(), new_id("svc")).submit_many(
        [(deployment(at), f"r-{i}") for i, at in enumerate(times)]
    )
    assert [o.status for o in outcomes] == [202, 422, 202, 422]
    assert [e["field"] for o in outcomes for e in o.errors] == ["started_at", "started_at"]


async def test_a_configured_window_is_applied():
    window = TimeWindow(datetime(2024, 1, 1, tzinfo=UTC), timedelta(minutes=1))
    subject = Intake(
        Stream.VOLUNTEER, new_id("svc"), MemoryReceiptStore(), FakePublisher(), lambda: NOW, window
    )
    times = [datetime(2023, 12, 31, 23, 59, tzinfo=UTC), NOW + timedelta(minutes=2), NOW]
    outcomes = await subject.submit_many([(deployment(at), f"r-{i}") for i, at in enumerate(times)])
    assert [o.status for o in outcomes] == [422, 422, 202]
    assert outcomes[0].errors == [{"field": "started_at", "message": f"must lie within {window.describe()}"}]


async def test_derived_ids_are_in_the_reserved_namespace():
    publisher = FakePublisher()
    subject = intake(publisher, new_id("svc"))
    [outcome] = await subject.submit_many([(deployment(), None)])
    assert outcome.status == 202 and outcome.event_id is not None
    assert outcome.event_id.startswith(f"{RESERVED_ID_PREFIX}d-")
    assert re.fullmatch(ID_PATTERN, outcome.event_id)
    assert (await subject.void(outcome.event_id, "typo")).event_id == void_id(outcome.event_id)
    assert void_id("r-1").startswith(f"{RESERVED_ID_PREFIX}void-") and re.fullmatch(
        ID_PATTERN, void_id("r-1")
    )
    assert derived_id("ab" * 32).startswith(RESERVED_ID_PREFIX)


class Unregistered(CourtOf):
    """A registry that holds no branch."""

    async def court_of(self, branch_id: str) -> str | None:
        return None


class AuditTopic:
    """The audit trail as a list (the void is audited)."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: object = None) -> tuple:
        self.records.append(value)
        return 0, len(self.records) - 1


@pytest.mark.parametrize("resource", TIME_FIELDS)
def test_a_sender_cannot_take_the_id_of_a_void_and_the_void_still_works(resource):
    # Before the reserved namespace, posting a record under `void-<sha of X>` made X's void 409.
    client = TestClient(APPS[resource], raise_server_exceptions=False)
    client.headers["Authorization"] = "Bearer w-token"
    receipts, publisher = MemoryReceiptStore(), FakePublisher()
    stream = {"deployments": Stream.VOLUNTEER, "contacts": Stream.LIAISON, "completions": Stream.TRAINING}
    state = APPS[resource].state
    saved = state.intake, state.org, state.auditor
    state.intake = Intake(stream[resource], "svc", receipts, publisher, lambda: NOW)
    state.org = Unregistered()  # in memory: the void checks the branch's reach, then is audited
    trail = AuditTopic()
    state.auditor = Auditor(trail, None, "svc")  # type: ignore[arg-type]
    state.auditor._ready = True  # the audit topic: Kafka's business, not this test's
    try:
        x = new_id("x")
        assert (
            client.post(f"/v1/{resource}", json=record(resource, NOW.isoformat()) | {"id": x}).status_code
            == 202
        )
        taken = client.post(
            f"/v1/{resource}", json=record(resource, "2024-05-01T00:00:00Z") | {"id": void_id(x)}
        )
        assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "id"
        void = client.post(f"/v1/{resource}/{x}:void", json={"reason": "entered twice"})
        assert void.status_code == 202, void.text
        assert void.json() == {"id": void_id(x), "status": "accepted", "duplicate": False}
    finally:
        state.intake, state.org, state.auditor = saved
    assert [json.loads(v)["id"] for _, _, v in publisher.sent] == [x, void_id(x)]
    assert len(trail.records) == 1  # the void


async def test_a_void_of_a_record_dated_ahead_names_the_records_time():
    receipts, ahead = MemoryReceiptStore(), NOW + timedelta(days=1)
    skewed = Intake(Stream.VOLUNTEER, "volunteer", receipts, FakePublisher(), lambda: ahead)
    assert [o.status for o in await skewed.submit_many([(deployment(ahead), "r-1")])] == [202]
    outcome = await intake(FakePublisher(), new_id("svc"), receipts).void("r-1", "typo")
    assert outcome.status == 422
    assert outcome.errors[0]["field"] == RecordVoided.time_field == "record_occurred_at"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_published_events_are_counted_by_type_once_kafka_acknowledged():
    service, publisher = new_id("svc"), FakePublisher()
    subject = intake(publisher, service)
    records = [(deployment(member_id=f"m-{i}"), f"r-{i}") for i in range(3)]
    assert [o.status for o in await subject.submit_many(records)] == [202] * 3
    assert (await subject.void("r-0", "entered twice")).status == 202
    deployed, voided = (f"cn.court.partybuilding.volunteer.{t}.v1" for t in ("deployed", "voided"))
    assert sample("intake_events_published_total", service=service, type=deployed) == 3
    assert sample("intake_events_published_total", service=service, type=voided) == 1
    await subject.submit_many(records)  # duplicates: nothing new reaches Kafka
    assert sample("intake_events_published_total", service=service, type=deployed) == 3
    assert len(publisher.sent) == 4


async def test_failed_writes_are_counted_by_a_short_reason_and_answered_503():
    service = new_id("svc")
    publisher = FakePublisher(BrokerUnavailable("Kafka did not acknowledge: TimeoutError", "ack_timeout"))
    outcomes = await intake(publisher, service).submit_many(
        [(deployment(), "r-1"), (deployment(hours=3), "r-2")]
    )
    assert [o.status for o in outcomes] == [503, 503]
    assert sample("intake_publish_failures_total", service=service, reason="ack_timeout") == 2
    deployed = "cn.court.partybuilding.volunteer.deployed.v1"
    assert sample("intake_events_published_total", service=service, type=deployed) == 0
    publisher.fail = None  # the broker is back: the retry publishes the original envelopes
    assert [o.status for o in await intake(publisher, service).submit_many([(deployment(), "r-1")])] == [202]


def test_failure_reasons_are_fixed_words():
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownTopicOrPartitionError

    assert failure_reason(TimeoutError()) == "ack_timeout"
    assert failure_reason(KafkaTimeoutError()) == "ack_timeout"
    assert failure_reason(KafkaConnectionError("Connection at 10.0.0.7:9092 closed")) == "broker_unavailable"
    assert failure_reason(OSError("connection refused")) == "broker_unavailable"
    assert failure_reason(UnknownTopicOrPartitionError()) == "broker_error"


def test_every_intake_service_exposes_its_series_from_the_start():
    text = generate_latest().decode()
    for service, kind in (("volunteer", "deployed"), ("liaison", "contacted"), ("training", "completed")):
        for t in (kind, "voided"):
            published = f'service="{service}",type="cn.court.partybuilding.{service}.{t}.v1"'
            assert f"intake_events_published_total{{{published}}} " in text
        for reason in ("broker_unavailable", "ack_timeout", "broker_error"):
            assert f'intake_publish_failures_total{{reason="{reason}",service="{service}"}} ' in text


async def test_an_id_repeated_within_one_batch_is_published_once():
    publisher = FakePublisher()
    outcomes = await intake(publisher, new_id("svc")).submit_many(
        [(deployment(), "r-1"), (deployment(), "r-1"), (deployment(hours=5), "r-1")]
    )
    assert [(o.status, o.duplicate) for o in outcomes] == [(202, False), (202, True), (409, False)]
    assert len(publisher.sent) == 1


async def test_a_void_cannot_be_voided():
    subject = intake(FakePublisher(), new_id("svc"))
    await subject.submit_many([(deployment(), "r-1")])
    assert (await subject.void("r-1", "typo")).status == 202
    assert (await subject.void(void_id("r-1"), "undo")).status == 409
