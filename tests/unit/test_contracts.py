"""The wire contract: envelopes, payload validation, the credit-code check, the topic registry."""

import json
from datetime import UTC, datetime

import pytest

from shared.contracts import (
    EVENT_TYPES,
    TOPICS,
    ContractError,
    Stream,
    VolunteerDeployed,
    build_event,
    parse_event,
)
from shared.credit_code import check_character, credit_code_problem

VALID_CODES = ["91350100M000100Y43", "914403001922038216", "91330100716105852F", "9144030071526726XG"]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_credit_codes_pass(code):
    assert credit_code_problem(code) is None


@pytest.mark.parametrize("code", VALID_CODES)
def test_a_wrong_check_character_is_named(code):
    wrong = "0" if code[-1] != "0" else "1"
    problem = credit_code_problem(code[:17] + wrong)
    assert problem is not None and f"expected {code[-1]!r}" in problem


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9135010", "18 characters"),
        ("91350100M000100YI3", "credit code: I"),
        ("91350100m000100Y43", "not allowed"),
    ],
)
def test_malformed_credit_codes_are_rejected(code, fragment):
    assert fragment in credit_code_problem(code)


def test_check_character_matches_known_code():
    assert check_character("91350100M000100Y4") == "3"


def deployment(**over):
    data = {
        "member_id": "m-1",
        "branch_id": "b-1",
        "kind": "epidemic_volunteer",
        "started_at": "2022-03-12T09:00:00+08:00",
        "hours": 4,
        "place": "Yunhe",
    }
    return {**data, **over}


def envelope(**over):
    env = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "volunteer",
        "type": "cn.court.partybuilding.volunteer.deployed.v1",
        "time": "2022-03-12T10:00:00+08:00",
        "subject": "b-1",
        "datacontenttype": "application/json",
        "data": deployment(),
    }
    return json.dumps({**env, **over}).encode()


def test_round_trip_of_built_event():
    payload = VolunteerDeployed.model_validate(deployment())
    event = build_event("e-1", "volunteer", Stream.VOLUNTEER, payload, datetime(2022, 3, 12, tzinfo=UTC))
    parsed = parse_event(event.model_dump_json())
    assert parsed.payload == payload
    assert parsed.envelope.subject == "b-1"
    assert parsed.event_type.stream is Stream.VOLUNTEER


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "invalid envelope"),
        (b"[1, 2]", "invalid envelope"),
        (envelope(type="cn.court.partybuilding.volunteer.deployed.v9"), "unsupported schema version"),
        (envelope(type="com.example.other.v1"), "unknown event type"),
        (envelope(data=deployment(hours=0)), "invalid data: hours"),
        (envelope(data=deployment(started_at="2022-03-12T09:00:00")), "timezone"),
        (envelope(data=deployment(extra="x")), "extra"),
        (envelope(subject="b-2"), "subject must equal"),
        (envelope(id="$gt"), "invalid envelope: id"),
        (envelope(specversion="0.3"), "specversion"),
    ],
)
def test_parse_event_gives_the_reason(raw, reason):
    with pytest.raises(ContractError, match=reason):
        parse_event(raw)


def test_every_stream_has_a_topic_and_types_name_their_version():
    assert {t.name for t in TOPICS.values()} == {
        "volunteer.deployments.v1",
        "liaison.contacts.v1",
        "training.completions.v1",
    }
    assert all(name.endswith(".v1") for name in EVENT_TYPES)
    assert {t.stream for t in EVENT_TYPES.values()} == set(Stream)
