"""The worker's fast decoder decides review's records as the contract does (the differential test
of tests/unit/test_decode_differential.py, for decisions, evidence and the envelope's review flag):
both accept or both refuse, with the same values and the same item for the fold."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.core.review import Submitted, item_of, item_of_decoded
from shared.contracts import TYPE_PREFIX, ContractError, Stream
from tests.unit.test_decode_differential import (
    Pairs,
    data_of,
    decisions,
    envelope_of,
    ids,
    json_values,
    raw_of,
    rfc3339,
    same_value,
    window_refusal,
)

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def assert_same(raw: bytes) -> bool:
    """Both refuse, or both accept with the same values and item; True when they accepted."""
    slow, quick = decisions(raw)
    where = f"for {raw[:600]!r}"
    if isinstance(slow, ContractError) or isinstance(quick, ContractError):
        assert isinstance(slow, ContractError) and isinstance(quick, ContractError), (slow, quick, where)
        return False
    for name in ("id", "type", "time", "subject", "review"):
        assert same_value(getattr(slow.envelope, name), getattr(quick.envelope, name)), f"{name} {where}"
    for name in type(quick.payload).__struct_fields__:
        a, b = getattr(slow.payload, name), getattr(quick.payload, name)
        assert same_value(a, b), f"data.{name}: {a!r} != {b!r} {where}"
    if window_refusal(slow.payload) is None:
        assert window_refusal(quick.payload) is None
        assert item_of_decoded(quick) == item_of(slow), where
    return True


def decision_data(**over: Any) -> dict:
    at = "2024-05-06T09:00:00+08:00"
    base = {"event_id": "e-0", "branch_id": "b-1", "record_occurred_at": at, "decision": "approved"}
    return {**base, "reason": "齐全", **over}


def evidence_data(**over: Any) -> dict:
    at = "2024-05-06T09:00:00+08:00"
    base = {"event_id": "e-0", "branch_id": "b-1", "record_occurred_at": at, "sha256": SHA}
    return {**base, "media_type": "image/png", "size": 1024, **over}


def typed(kind: str, stream: str, data: Any) -> Pairs:
    name = f"{TYPE_PREFIX}{stream}.{'reviewed' if kind == 'review' else 'evidenced'}.v1"
    return envelope_of(stream, data, type=name)


CASES: list[tuple[str, bytes]] = [
    ("a submitted record", raw_of(envelope_of("liaison", data_of("liaison"), review="required"))),
    ("review null", raw_of(envelope_of("volunteer", data_of("volunteer"), review=None))),
    ("review true", raw_of(envelope_of("volunteer", data_of("volunteer"), review=True))),
    ("review another word", raw_of(envelope_of("training", data_of("training"), review="optional"))),
    ("review upper case", raw_of(envelope_of("training", data_of("training"), review="Required"))),
    ("approved", raw_of(typed("review", "liaison", decision_data()))),
    ("declined", raw_of(typed("review", "training", decision_data(decision="declined")))),
    ("decision unknown", raw_of(typed("review", "training", decision_data(decision="maybe")))),
    ("decision without reason", raw_of(typed("review", "volunteer", decision_data(reason="")))),
    ("decision reason newline", raw_of(typed("review", "volunteer", decision_data(reason="a\nb")))),
    ("evidence", raw_of(typed("evidence", "volunteer", evidence_data()))),
    ("evidence pdf", raw_of(typed("evidence", "liaison", evidence_data(media_type="application/pdf")))),
    ("evidence exe", raw_of(typed("evidence", "liaison", evidence_data(media_type="application/x-exe")))),
    ("evidence size 0", raw_of(typed("evidence", "liaison", evidence_data(size=0)))),
    ("evidence 10 MiB", raw_of(typed("evidence", "liaison", evidence_data(size=10 * 1024 * 1024)))),
    ("evidence 10 MiB + 1", raw_of(typed("evidence", "liaison", evidence_data(size=10 * 1024 * 1024 + 1)))),
    ("evidence size float", raw_of(typed("evidence", "liaison", evidence_data(size=10.0)))),
    ("evidence size string", raw_of(typed("evidence", "liaison", evidence_data(size="10")))),
    ("evidence sha upper", raw_of(typed("evidence", "training", evidence_data(sha256=SHA.upper())))),
    ("evidence sha newline", raw_of(typed("evidence", "training", evidence_data(sha256=SHA + "\n")))),
    ("evidence extra field", raw_of(typed("evidence", "training", evidence_data(name="x.png")))),
    ("evidence as a decision", raw_of(typed("review", "training", evidence_data()))),
]


@pytest.mark.parametrize("raw", [raw for _, raw in CASES], ids=[name for name, _ in CASES])
def test_review_records_are_decided_alike(raw):
    assert_same(raw)


def test_the_cases_reach_both_verdicts_and_a_submitted_record_is_held_for_review():
    accepted = {name for name, raw in CASES if assert_same(raw)}
    assert {
        "a submitted record",
        "review null",
        "approved",
        "declined",
        "evidence",
        "evidence 10 MiB",
    } <= accepted
    assert not {"review true", "decision unknown", "evidence exe", "evidence 10 MiB + 1"} & accepted
    slow, _ = decisions(dict(CASES)["a submitted record"])
    assert isinstance(item_of(slow), Submitted)  # type: ignore[arg-type]


@st.composite
def review_records(draw: st.DrawFn) -> bytes:
    """A decision, an evidence record or a record submitted for review, valid, then perhaps with
    one field replaced by any JSON value."""
    stream = draw(st.sampled_from([s.value for s in Stream]))
    kind = draw(st.sampled_from(["review", "evidence", "record"]))
    common = {"event_id": draw(ids), "branch_id": "b-1", "record_occurred_at": draw(rfc3339())}
    if kind == "record":
        env = envelope_of(stream, data_of(stream), review=draw(st.sampled_from(["required", None])))
    elif kind == "review":
        env = typed(
            kind, stream, decision_data(**common, decision=draw(st.sampled_from(["approved", "declined"])))
        )
    else:
        media = draw(st.sampled_from(["image/jpeg", "image/png", "application/pdf"]))
        env = typed(kind, stream, evidence_data(**common, media_type=media, size=draw(st.integers(1, 2**24))))
    env.set("id", draw(ids))
    env.set("time", draw(rfc3339()))
    if draw(st.booleans()):
        data = env.get("data")
        target = draw(st.sampled_from([env, Pairs(list(data.items()))]))
        key = draw(st.sampled_from([k for k, _ in target.items] + ["review"]))
        target.set(key, draw(json_values))
        if target is not env:
            env.set("data", dict(target.items))
    return raw_of(env)


@settings(
    max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(raw=review_records())
def test_a_generated_review_record_is_decided_alike(raw):
    assert_same(raw)
