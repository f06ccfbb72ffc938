"""The worker's fast decoder (shared/fast_contracts.py) decides every record as the contract does.

One corpus goes to both parse_event (pydantic, the contract) and decode_event (msgspec, the
worker's hot path): every record shape the test suites and the bench post, records generated from
the contract (valid ones, then mutated), and hostile ones. Both must accept or both refuse; on
accept they must give the same envelope, payload, fact and time-window decision. A disagreement
found once stays here as a named case.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from functools import cache
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.core.facts import fact_of, fact_of_decoded
from shared import fast_contracts as fast
from shared.contracts import (
    EVENT_TYPES,
    ID_PATTERN,
    LINE_PATTERN,
    RESERVED_ID_PREFIX,
    Channel,
    CloudEvent,
    ContactKind,
    ContractError,
    DeploymentKind,
    Enterprise,
    EvaluationLevel,
    MemberAppraised,
    MemberEvaluated,
    ParsedEvent,
    Performance,
    Stream,
    TrainingKind,
    build_event,
    check_time_window,
    parse_event,
    type_for,
)
from shared.credit_code import ALPHABET, check_character

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
CODE = "91350100M000100Y43"
TIME_FIELD = {"volunteer": "started_at", "liaison": "occurred_at", "training": "completed_at"}


# --- the comparison -------------------------------------------------------------------------------


def decisions(raw: bytes) -> tuple[ParsedEvent | ContractError, fast.DecodedEvent | ContractError]:
    try:
        slow: ParsedEvent | ContractError = parse_event(raw)
    except ContractError as err:
        slow = err
    try:
        quick: fast.DecodedEvent | ContractError = fast.decode_event(raw)
    except ContractError as err:
        quick = err
    return slow, quick


def same_value(a: object, b: object) -> bool:
    """Equal, of the same kind, and for times at the same offset (the month depends on it)."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset() and a.replace(tzinfo=None) == b.replace(tzinfo=None)
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) is float and repr(a) == repr(b)
    if isinstance(a, Enterprise):
        return isinstance(b, fast.Enterprise) and (a.name, a.credit_code) == (b.name, b.credit_code)
    if isinstance(a, StrEnum):
        return a is b
    return type(a) is type(b) and a == b


def window_refusal(payload: Any) -> str | None:
    try:
        check_time_window(payload, NOW)
    except ContractError as err:
        return str(err)
    return None


def assert_same_decision(raw: bytes) -> bool:
    """Both refuse, or both accept with the same values; True when they accepted."""
    slow, quick = decisions(raw)
    where = f"for {raw[:600]!r}"
    if isinstance(slow, ContractError) or isinstance(quick, ContractError):
        assert isinstance(slow, ContractError) and isinstance(quick, ContractError), (
            f"pydantic: {slow!r}; fast: {quick!r} {where}"
        )
        assert str(quick), where  # a reason for the dead-letter header
        return False
    for name in ("specversion", "id", "source", "type", "time", "subject", "datacontenttype"):
        assert same_value(getattr(slow.envelope, name), getattr(quick.envelope, name)), f"{name} {where}"
    assert slow.event_type is quick.event_type, where
    fields = type(quick.payload).__struct_fields__
    assert set(fields) == set(type(slow.payload).model_fields), where
    for name in fields:
        a, b = getattr(slow.payload, name), getattr(quick.payload, name)
        assert same_value(a, b), f"data.{name}: {a!r} != {b!r} {where}"
    sort = orjson.OPT_SORT_KEYS
    assert orjson.dumps(quick.data(), option=sort) == orjson.dumps(slow.envelope.data, option=sort), where
    refusal = window_refusal(slow.payload)
    assert window_refusal(quick.payload) == refusal, where
    if refusal is None:  # the worker folds only records within the window (a fact has a month)
        assert fact_of_decoded(quick) == fact_of(slow), where
    return True


# --- building records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """JSON text written as it is: NaN, 1e400, a number of 400 digits, deep nesting, bad bytes."""

    text: str


def render(value: Any) -> str:
    """JSON text; an object is a list of (key, value) pairs, so a key can be repeated."""
    if isinstance(value, Token):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return render(Pairs(list(value.items())))
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return json.dumps(value)  # escapes lone surrogates as \ud800; writes nan as NaN


@dataclass
class Pairs:
    items: list[tuple[str, Any]]

    def get(self, key: str) -> Any:
        return dict(self.items).get(key)

    def set(self, key: str, value: Any) -> None:
        self.items = [(k, value if k == key else v) for k, v in self.items]
        if key not in dict(self.items):
            self.items.append((key, value))

    def drop(self, key: str) -> None:
        self.items = [(k, v) for k, v in self.items if k != key]


def data_of(stream: str, voided: bool = False, **over: Any) -> dict:
    """A valid payload of `stream` (or a void on it), with changes."""
    at = "2024-05-06T09:00:00+08:00"
    if voided:
        base: dict[str, Any] = {
            "event_id": "e-0",
            "branch_id": "b-1",
            "record_occurred_at": at,
            "reason": "typo",
        }
    else:
        base = {
            "volunteer": {"kind": "legal_publicity", "started_at": at, "hours": 2, "place": "运河区"},
            "liaison": {
                "kind": "visit",
                "channel": "offline",
                "enterprise": {"name": "沧州某机械制造有限公司", "credit_code": CODE},
                "occurred_at": at,
            },
            "training": {"kind": "lecture_hall", "session_id": "lecture-2024-05", "completed_at": at},
        }[stream] | {"member_id": "m-1", "branch_id": "b-1"}
    return {**base, **over}


def envelope_of(stream: str, data: Any, voided: bool = False, **over: Any) -> Pairs:
    branch = data.get("branch_id") if isinstance(data, dict | Pairs) else None
    env = Pairs(
        [
            ("specversion", "1.0"),
            ("id", "e-1"),
            ("source", stream),
            ("type", type_for(Stream(stream), voided)),
            ("time", "2024-05-06T10:00:00+08:00"),
            ("subject", branch if isinstance(branch, str) else "b-1"),
            ("datacontenttype", "application/json"),
            ("data", data),
        ]
    )
    for k, v in over.items():
        env.set(k, v)
    return env


VOTER = "5f0c3b8c4a6f4e0d9b7c1a2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
EXAM_TYPES = {
    "evaluation": "cn.court.partybuilding.training.evaluated.v1",
    "appraisal": "cn.court.partybuilding.training.appraised.v1",
}


def exam_data(name: str, **over: Any) -> dict:
    """A valid ballot (evaluation) or appraisal of the yearly examination, with changes."""
    base: dict[str, Any] = {
        "evaluation": {"voter_hash": VOTER, "year": 2023, "level": "fairly_good"},
        "appraisal": {
            "year": 2023,
            "source": "trial-system",
            "trial_quality": 88.5,
            "performance": "competent",
        },
    }[name] | {"member_id": "m-1", "branch_id": "b-1"}
    return {**base, **over}


def exam_envelope(name: str, data: Any, **over: Any) -> Pairs:
    """A ballot's or an appraisal's envelope on the training stream."""
    return envelope_of("training", data, type=EXAM_TYPES[name], **over)


def raw_of(value: Any) -> bytes:
    text = render(value)
    return text.encode("utf-8", "surrogatepass")  # an unescaped surrogate: invalid UTF-8 on purpose


def wrap_body(stream: str, body: bytes) -> bytes:
    """An HTTP body a suite posts, as the `data` of an envelope (a producer writing it straight)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    branch = "b-1"
    if isinstance(doc, dict):
        doc.pop("id", None)  # the sender's id travels in the envelope, not in data
        branch = doc["branch_id"] if isinstance(doc.get("branch_id"), str) else branch
        body = json.dumps(doc).encode()
    head = render(envelope_of(stream, None, subject=branch)).rsplit(', "data": ', 1)[0]
    return head.encode() + b', "data": ' + body + b"}"


def intake_envelope(stream: str, body: dict, voided: bool = False) -> bytes | None:
    """What an intake service publishes for a valid body: its CloudEvent (None if the body is invalid)."""
    model = EVENT_TYPES[type_for(Stream(stream), voided)].model
    try:
        payload = model.model_validate({k: v for k, v in body.items() if k != "id"})
    except ValueError:
        return None
    event = build_event(str(body.get("id") or "sys-d-0123"), stream, Stream(stream), payload, NOW)  # type: ignore[arg-type]
    return event.model_dump_json().encode()


# --- every record shape the suites and the bench post ---------------------------------------------


@cache
def posted() -> list[tuple[str, bytes]]:
    """(name, value) of the records the test suites, the fault suite and the bench send."""
    from bench.dataset import bench_city, sample
    from tests.fault.workload import Workload
    from tests.integration.test_dead_letters import envelope as dead_letter_envelope
    from tests.integration.test_dead_letters import poisons
    from tests.integration.test_intake_kafka import SERVICES
    from tests.security.hostile import CASES
    from tests.support import completion, contact, deployment
    from tests.unit.test_scorer_isolation import record as isolation_record

    at = datetime(2024, 6, 3, 9, 0, tzinfo=CST)
    bodies: list[tuple[str, str, dict]] = [
        ("support deployment", "volunteer", deployment("b-1", at)),
        ("support deployment, whole hours", "volunteer", deployment("b-1", at, hours=3)),
        ("support contact", "liaison", contact("b-1", at, kind="symposium")),
        ("support completion", "training", completion("b-1", at, "party_lecture", "pl-1")),
    ]
    bodies += [(f"intake-kafka {s}", s, build("b-1", at)) for s, (_, _, _, build) in SERVICES.items()]
    workload = Workload.fresh()
    bodies += [(f"fault workload {s} {i}", s, workload.record(s)) for s in Stream for i in range(10)]
    bodies += [(f"bench {s} {i}", s, r) for i, (s, r) in enumerate(sample(bench_city(1), 150, "dd"))]
    records: list[tuple[str, bytes]] = []
    for name, stream, body in bodies:
        published = intake_envelope(stream, body)
        assert published is not None, name  # the suites post valid records
        records += [
            (f"{name} (intake)", published),
            (f"{name} (straight)", wrap_body(stream, json.dumps(body).encode())),
        ]
    for stream in Stream:
        records.append(
            (f"dead-letter {stream}", json.dumps(dead_letter_envelope(stream, "b-1", "m-1")).encode())
        )
        records += [(f"dead-letter poison {stream} {m}", v) for m, (_, v) in poisons(stream, "b-1").items()]
    records.append(("scorer isolation", isolation_record("b-1", "e-1", 0).value))
    records += [
        (f"hostile {h.stream}: {h.name}", wrap_body(h.stream, h.body))
        for h in CASES
        if isinstance(h.body, bytes) and len(h.body) < 2_000_000 and ":void" not in h.suffix
    ]
    for name, model in (("evaluation", MemberEvaluated), ("appraisal", MemberAppraised)):
        payload = model.model_validate(exam_data(name))
        event = build_event(f"exam-{name}", "training", Stream.TRAINING, payload, NOW)
        records.append((f"intake {name}", event.model_dump_json().encode()))
        records.append((f"straight {name}", raw_of(exam_envelope(name, exam_data(name)))))
    void = {"event_id": "e-0", "branch_id": "b-1", "record_occurred_at": at.isoformat(), "reason": "typo"}
    records += [(f"intake void {s}", intake_envelope(s, void, voided=True) or b"") for s in Stream]
    return records


def test_every_posted_record_is_decided_alike():
    accepted = [name for name, raw in posted() if assert_same_decision(raw)]
    assert len(accepted) >= 400, accepted  # the corpus is mostly valid records: it proves the values


# --- hostile records, each named ------------------------------------------------------------------


def hostile() -> list[tuple[str, bytes]]:
    """Records that probe where two decoders could differ; each was once worth a look."""
    cases: list[tuple[str, Any]] = []

    def at_time(name: str, value: Any, stream: str = "volunteer") -> None:
        cases.append(
            (f"data time {name}", envelope_of(stream, data_of(stream, **{TIME_FIELD[stream]: value})))
        )
        cases.append((f"envelope time {name}", envelope_of(stream, data_of(stream), time=value)))

    for name, value in [
        ("leap day", "2024-02-29T09:00:00+08:00"),
        ("29 Feb of a common year", "2023-02-29T09:00:00+08:00"),
        ("30 Feb", "2024-02-30T09:00:00+08:00"),
        ("leap second", "2016-12-31T23:59:60Z"),
        ("+14:00", "2024-05-06T09:00:00+14:00"),
        ("-14:00", "2024-05-06T09:00:00-14:00"),
        ("+23:59", "2024-05-06T09:00:00+23:59"),
        ("+24:00", "2024-05-06T09:00:00+24:00"),
        ("-00:00", "2024-05-06T09:00:00-00:00"),
        ("Z", "2024-05-06T01:00:00Z"),
        ("lower-case t and z", "2024-05-06t01:00:00z"),
        ("space for T", "2024-05-06 09:00:00+08:00"),
        ("offset without colon", "2024-05-06T09:00:00+0800"),
        ("offset of hours only", "2024-05-06T09:00:00+08"),
        ("no offset", "2024-05-06T09:00:00"),
        ("no seconds", "2024-05-06T09:00+08:00"),
        ("date only", "2024-05-06"),
        ("year 0001 at +14:00", "0001-01-01T00:00:00+14:00"),
        ("year 0000", "0000-01-01T00:00:00Z"),
        ("year 9999 at -14:00", "9999-12-31T23:59:59-14:00"),
        ("fraction of 1 digit", "2024-05-06T09:00:00.5+08:00"),
        ("fraction of 6 digits", "2024-05-06T09:00:00.123456+08:00"),
        ("fraction of 9 digits", "2024-05-06T09:00:00.123456789+08:00"),
        ("fraction rounding into the next second", "2024-05-06T09:00:59.9999999+08:00"),
        ("fraction rounding into the next year", "2023-12-31T23:59:59.9999999+08:00"),
        ("comma fraction", "2024-05-06T09:00:00,5+08:00"),
        ("empty fraction", "2024-05-06T09:00:00.+08:00"),
        ("hour 24", "2024-05-06T24:00:00+08:00"),
        ("trailing newline", "2024-05-06T09:00:00+08:00\n"),
        ("leading space", " 2024-05-06T09:00:00+08:00"),
        ("fullwidth digits", "２０２４-05-06T09:00:00+08:00"),
        ("Arabic-Indic digits", "٢٠٢٤-05-06T09:00:00+08:00"),
        ("basic format", "20240506T090000+0800"),
        ("week date", "2024-W19-1T09:00:00+08:00"),
        ("Unix seconds", 1714957200),
        ("Unix seconds as text", "1714957200"),
        ("Unix milliseconds", 1714957200000),
        ("float seconds", 1714957200.5),
        ("true", True),
        ("null", None),
        ("object", {"$date": "2024-05-06T09:00:00+08:00"}),
        ("before the window", "1989-12-31T23:59:59+08:00"),
        ("window's first instant", "1990-01-01T00:00:00+08:00"),
        ("after the window", "2024-07-01T12:10:01Z"),
    ]:
        at_time(name, value)
    at_time("leap day, training", "2024-02-29T23:30:00-01:00", "training")

    text_attacks = {
        "trailing newline": "m-001\n",
        "trailing CRLF": "m-001\r\n",
        "leading newline": "\nm-001",
        "NUL": "m\x00001",
        "ESC": "\x1b[31mm",
        "DEL": "m\x7f",
        "C1 control": "m\x85",
        "LRM": "m\u200e",
        "RLO": "abc\u202egnp",
        "RLI": "\u2067x",
        "line separator": "a\u2028b",
        "zero-width space": "zy\u200bcivil",
        "fullwidth": "ｚｙ-civil-1",
        "Cyrillic": "zу-civil-1",
        "emoji": "m-😀",
        "lone high surrogate": "a\ud800b",
        "lone low surrogate": "a\udc00b",
        "reversed pair": "a\udc00\ud800b",
        "tab": "a\tb",
        "empty": "",
        "space": " ",
    }
    for field, stream in [
        ("member_id", "volunteer"),
        ("branch_id", "volunteer"),
        ("session_id", "training"),
        ("place", "volunteer"),
        ("note", "volunteer"),
        ("note", "liaison"),
    ]:
        for name, value in text_attacks.items():
            data = data_of(stream, **{field: value})
            cases.append((f"{field} {name}", envelope_of(stream, data, subject="b-1")))
    for name, value in text_attacks.items():
        cases.append(
            (f"reason {name}", envelope_of("training", data_of("training", True, reason=value), True))
        )
        cases.append(
            (f"void event_id {name}", envelope_of("liaison", data_of("liaison", True, event_id=value), True))
        )
        cases.append((f"envelope id {name}", envelope_of("volunteer", data_of("volunteer"), id=value)))
        cases.append((f"source {name}", envelope_of("volunteer", data_of("volunteer"), source=value)))
        enterprise = {"name": value, "credit_code": CODE}
        cases.append(
            (f"enterprise name {name}", envelope_of("liaison", data_of("liaison", enterprise=enterprise)))
        )
    raw_surrogate = data_of("volunteer", place="a\ud800b")
    cases.append(("unescaped surrogate bytes", Token(render(envelope_of("volunteer", raw_surrogate)))))

    lengths = [
        (128, "volunteer", "member_id"),
        (129, "volunteer", "member_id"),
        (200, "volunteer", "place"),
        (201, "volunteer", "place"),
        (2000, "volunteer", "note"),
        (2001, "volunteer", "note"),
        (200, "liaison", "note"),
        (128, "training", "session_id"),
        (129, "training", "session_id"),
    ]
    for size, stream, field in lengths:
        cases.append((f"{field} of {size}", envelope_of(stream, data_of(stream, **{field: "a" * size}))))
        wide = "a" + "運" * (size - 1)  # characters, not bytes, are counted
        cases.append(
            (f"{field} of {size} wide characters", envelope_of(stream, data_of(stream, **{field: wide})))
        )
    for size in (499, 500, 501):
        cases.append(
            (
                f"reason of {size}",
                envelope_of("volunteer", data_of("volunteer", True, reason="r" * size), True),
            )
        )
    for size in (0, 1, 200, 201):
        cases.append((f"source of {size}", envelope_of("volunteer", data_of("volunteer"), source="s" * size)))
    cases.append(("envelope id of 128", envelope_of("volunteer", data_of("volunteer"), id="e" * 128)))
    cases.append(("envelope id of 129", envelope_of("volunteer", data_of("volunteer"), id="e" * 129)))
    cases.append(("subject of 129", envelope_of("volunteer", data_of("volunteer", branch_id="b" * 129))))
    cases.append(("branch of 1 MB", envelope_of("volunteer", data_of("volunteer", branch_id="b" * 2**20))))

    numbers: list[tuple[str, Any]] = [
        ("0", 0),
        ("-0", Token("-0")),
        ("-0.0", -0.0),
        ("smallest positive", 5e-324),
        ("1e-400", Token("1e-400")),
        ("24", 24),
        ("24.0", 24.0),
        ("just over 24", 24.000000000000004),
        ("24 in many digits", Token("24.0000000000000000000001")),
        ("4E0", Token("4E0")),
        ("40e-1", Token("40e-1")),
        ("1.5", 1.5),
        ("0.1", 0.1),
        ("100", 100),
        ("100.0", 100.0),
        ("over 100", 100.00000000000001),
        ("NaN", Token("NaN")),
        ("Infinity", Token("Infinity")),
        ("-Infinity", Token("-Infinity")),
        ("1e400", Token("1e400")),
        ("400 digits", Token("9" * 400)),
        ("2**64", 2**64),
        ("-2**63", -(2**63)),
        ("a string", "4"),
        ("an empty string", ""),
        ("true", True),
        ("false", False),
        ("null", None),
        ("a list", [4]),
        ("an object", {"$gt": 0}),
        ("leading zero", Token("04")),
        ("leading plus", Token("+4")),
        ("hex", Token("0x4")),
    ]
    for name, value in numbers:
        cases.append((f"hours {name}", envelope_of("volunteer", data_of("volunteer", hours=value))))
        cases.append((f"score {name}", envelope_of("training", data_of("training", score=value))))
    cases.append(("score absent", envelope_of("training", data_of("training"))))

    codes = {
        "valid": CODE,
        "valid, X check": "91350100M000100Y43",
        "wrong check": CODE[:17] + "4",
        "lower case": CODE.lower(),
        "17 characters": CODE[:17],
        "19 characters": CODE + "3",
        "letter I": "91350100I000100Y43",
        "fullwidth digit": "９" + CODE[1:],
        "trailing newline": CODE + "\n",
        "1 MB": "9" * 2**20,
        "number": 91350100,
        "null": None,
        "empty": "",
    }
    for name, code in codes.items():
        data = data_of("liaison", enterprise={"name": "E", "credit_code": code})
        cases.append((f"credit code {name}", envelope_of("liaison", data)))
    for name, enterprise in {
        "extra field": {"name": "E", "credit_code": CODE, "$set": 1},
        "no name": {"credit_code": CODE},
        "a string": "E",
        "a list": [{"name": "E", "credit_code": CODE}],
        "null": None,
    }.items():
        cases.append(
            (f"enterprise {name}", envelope_of("liaison", data_of("liaison", enterprise=enterprise)))
        )

    for stream, kinds in [
        ("volunteer", DeploymentKind),
        ("liaison", ContactKind),
        ("training", TrainingKind),
    ]:
        for kind in kinds:
            cases.append((f"kind {kind.value}", envelope_of(stream, data_of(stream, kind=kind.value))))
        for name, value in {
            "upper case": next(iter(kinds)).value.upper(),
            "padded": f" {next(iter(kinds)).value}",
            "other stream's": "visit" if stream != "liaison" else "lecture_hall",
            "number": 1,
            "list": [next(iter(kinds)).value],
        }.items():
            cases.append((f"{stream} kind {name}", envelope_of(stream, data_of(stream, kind=value))))
    for channel in [*Channel, "ONLINE", "phone"]:
        cases.append((f"channel {channel}", envelope_of("liaison", data_of("liaison", channel=str(channel)))))

    cases += exam_cases()

    base = envelope_of("volunteer", data_of("volunteer"))
    for name in ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"):
        env = Pairs(list(base.items))
        env.drop(name)
        cases.append((f"envelope without {name}", env))
    for name, over in {
        "specversion 0.3": {"specversion": "0.3"},
        "specversion 1": {"specversion": 1},
        "specversion 1.0 as number": {"specversion": 1.0},
        "datacontenttype text/json": {"datacontenttype": "text/json"},
        "datacontenttype null": {"datacontenttype": None},
        "type of a future version": {"type": "cn.court.partybuilding.volunteer.deployed.v2"},
        "type of another stream": {"type": type_for(Stream.TRAINING)},
        "type of a void": {"type": type_for(Stream.VOLUNTEER, voided=True)},
        "unknown type": {"type": "com.example.other.v1"},
        "type as a number": {"type": 1},
        "subject of another branch": {"subject": "b-2"},
        "subject with a newline": {"subject": "b-1\n"},
        "reserved id prefix": {"id": f"{RESERVED_ID_PREFIX}d-0123abcd"},
        "reserved void id": {"id": f"{RESERVED_ID_PREFIX}void-0123abcd"},
        "data a list": {"data": [data_of("volunteer")]},
        "data a string": {"data": json.dumps(data_of("volunteer"))},
        "data null": {"data": None},
        "data empty": {"data": {}},
        "data with an unknown field": {"data": data_of("volunteer", extra="x")},
        "data with the sender's id": {"data": data_of("volunteer", id="r-1")},
        "data with a $-key": {"data": data_of("volunteer", **{"$where": "1"})},
        "data of 500-deep nesting": {"data": data_of("volunteer", member_id=Token("[" * 500 + "]" * 500))},
        "data of 50,000-deep nesting": {
            "data": data_of("volunteer", member_id=Token("[" * 50_000 + "]" * 50_000))
        },
    }.items():
        env = Pairs(list(base.items))
        for k, v in over.items():
            env.set(k, v)
        cases.append((name, env))

    extensions: dict[str, Any] = {
        "string": ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        "boolean": ("sampled", True),
        "int32": ("partitionkey", 2**31 - 1),
        "past int32": ("partitionkey", 2**31),
        "negative int32": ("n", -(2**31)),
        "float": ("ratio", 0.5),
        "NaN": ("ratio", Token("NaN")),
        "null": ("x", None),
        "object": ("x", {"a": 1}),
        "list": ("x", [1]),
        "nested 300 deep": ("x", Token("[" * 300 + "]" * 300)),
        "nested 5000 deep": ("x", Token("[" * 5000 + "]" * 5000)),
        "upper-case name": ("traceParent", "x"),
        "underscore name": ("data_base64", "eA=="),
        "$-name": ("$where", "x"),
        "empty name": ("", "x"),
        "400-digit integer": ("x", Token("9" * 400)),
        "control characters": ("x", "\x00\x1b\u202e"),
        "string of 1 MB": ("x", "x" * 2**20),
    }
    for name, (key, value) in extensions.items():
        env = Pairs(list(base.items))
        env.items.append((key, value))
        cases.append((f"extension {name}", env))
        env = Pairs(list(base.items))
        env.items.insert(0, (key, value))
        cases.append((f"extension {name}, first", env))

    dup = [
        ("envelope id repeated, last invalid", "id", "e-1", "$x", None),
        ("envelope id repeated, first invalid", "id", "$x", "e-1", None),
        ("type repeated", "type", "com.example.x.v1", type_for(Stream.VOLUNTEER), None),
        ("type repeated, last unknown", "type", type_for(Stream.VOLUNTEER), "com.example.x.v1", None),
        ("data repeated, first invalid", "data", data_of("volunteer", hours="x"), data_of("volunteer"), None),
        ("data repeated, last invalid", "data", data_of("volunteer"), data_of("volunteer", hours="x"), None),
        ("hours repeated, first invalid", None, None, None, ("hours", "x", 4)),
        ("hours repeated, last invalid", None, None, None, ("hours", 4, "x")),
        ("hours repeated, both valid", None, None, None, ("hours", 4, 5.5)),
        ("member repeated, first an operator", None, None, None, ("member_id", {"$gt": ""}, "m-2")),
        ("member repeated, last an operator", None, None, None, ("member_id", "m-2", {"$gt": ""})),
        ("branch repeated", None, None, None, ("branch_id", "b-2", "b-1")),
    ]
    for name, key, first, last, in_data in dup:
        if in_data:
            field, a, b = in_data
            data = Pairs(list(data_of("volunteer").items()))
            data.drop(field)
            data.items += [(field, a), (field, b)]
            env = envelope_of("volunteer", data)
        else:
            env = Pairs(list(base.items))
            env.drop(key)  # type: ignore[arg-type]
            env.items += [(key, first), (key, last)]  # type: ignore[list-item]
        cases.append((name, env))

    texts: list[tuple[str, bytes]] = [(name, raw_of(value)) for name, value in cases]
    good = raw_of(base)
    texts += [
        ("not JSON", b"not json"),
        ("empty", b""),
        ("a list", b"[1, 2]"),
        ("null", b"null"),
        ("a string", b'"x"'),
        ("truncated", good[:-1]),
        ("trailing comma", good[:-1] + b",}"),
        ("trailing newline", good + b"\n"),
        ("leading whitespace", b" \t\r\n" + good),
        ("trailing NUL", good + b"\x00"),
        ("trailing garbage", good + b"x"),
        ("two documents", good + good),
        ("byte-order mark", b"\xef\xbb\xbf" + good),
        ("UTF-16", good.decode().encode("utf-16")),
        ("overlong UTF-8", good.replace(b'"m-1"', b'"m\xc0\xaf1"')),
        ("CESU surrogate", good.replace("运".encode(), b"\xed\xa0\x80")),
        ("Latin-1 byte", good.replace("运".encode(), b"\xe9")),
        ("raw tab in a string", good.replace(b'"m-1"', b'"m\t1"')),
        ("raw newline in a string", good.replace(b'"m-1"', b'"m\n1"')),
        ("escaped slash", good.replace(b'"m-1"', b'"m\\/1"')),
        ("escaped letters", good.replace(b'"m-1"', b'"\\u006d-1"')),
        ("escaped NUL", good.replace(b'"m-1"', b'"m\\u00001"')),
        ("bad escape", good.replace(b'"m-1"', b'"m\\x1"')),
        ("single quotes", good.replace(b'"m-1"', b"'m-1'")),
        ("comment", good[:-1] + b"/* c */}"),
    ]
    return texts


def exam_cases() -> list[tuple[str, Any]]:
    """The yearly examination's records: years, levels, voter hashes, scores, appraisal results."""
    cases: list[tuple[str, Any]] = []
    years: list[tuple[str, Any]] = [
        ("2023", 2023),
        ("1990", 1990),
        ("1989", 1989),
        ("this year", 2024),
        ("next year", 2025),
        ("9999", 9999),
        ("10000", 10000),
        ("2023.0", 2023.0),
        ("2023.5", 2023.5),
        ("a string", "2023"),
        ("true", True),
        ("null", None),
        ("negative", -2023),
        ("2**64", 2**64),
        ("1e3", Token("2e3")),
        ("leading zero", Token("02023")),
    ]
    for name in EXAM_TYPES:
        for label, value in years:
            cases.append((f"{name} year {label}", exam_envelope(name, exam_data(name, year=value))))
        for field in ("member_id", "branch_id"):
            cases.append((f"{name} without {field}", exam_envelope(name, {**exam_data(name), field: None})))
        cases.append((f"{name} with a kind", exam_envelope(name, exam_data(name, kind="lecture_hall"))))
        data = exam_data(name)
        del data["year"]
        cases.append((f"{name} without year", exam_envelope(name, data)))
    for level in [*EvaluationLevel, "GOOD", "excellent", "", 1]:
        cases.append(
            (f"ballot level {level}", exam_envelope("evaluation", exam_data("evaluation", level=level)))
        )
    for label, voter in {
        "upper case": VOTER.upper(),
        "63 digits": VOTER[:63],
        "65 digits": VOTER + "0",
        "trailing newline": VOTER + "\n",
        "raw member id": "m-002",
        "number": 12,
    }.items():
        data = exam_data("evaluation", voter_hash=voter)
        cases.append((f"ballot voter {label}", exam_envelope("evaluation", data)))
    data = exam_data("evaluation")
    data["voter_id"] = data.pop("voter_hash")
    cases.append(("ballot with a raw voter_id", exam_envelope("evaluation", data)))
    for performance in [*Performance, "Excellent", "good", None]:
        data = exam_data("appraisal", performance=performance)
        cases.append((f"appraisal performance {performance}", exam_envelope("appraisal", data)))
    for label, value in [
        ("0", 0),
        ("100", 100),
        ("100.0", 100.0),
        ("over 100", 100.5),
        ("negative", -0.5),
        ("a string", "90"),
        ("true", True),
        ("NaN", Token("NaN")),
    ]:
        data = exam_data("appraisal", trial_quality=value)
        cases.append((f"appraisal trial_quality {label}", exam_envelope("appraisal", data)))
    for label, source in {"empty": "", "trailing newline": "hr\n", "129": "s" * 129, "space": "a b"}.items():
        data = exam_data("appraisal", source=source)
        cases.append((f"appraisal source {label}", exam_envelope("appraisal", data)))
    cases.append(("ballot typed an appraisal", exam_envelope("appraisal", exam_data("evaluation"))))
    cases.append(("appraisal typed a completion", envelope_of("training", exam_data("appraisal"))))
    return cases


HOSTILE = hostile()


@pytest.mark.parametrize("raw", [raw for _, raw in HOSTILE], ids=[name for name, _ in HOSTILE])
def test_hostile_record_is_decided_alike(raw):
    assert_same_decision(raw)


def test_the_hostile_corpus_reaches_both_verdicts():
    accepted = {name for name, raw in HOSTILE if assert_same_decision(raw)}
    assert {"data time leap day", "hours 24", "extension string", "hours repeated, both valid"} <= accepted
    assert not {"member_id trailing newline", "hours NaN", "data time Unix seconds"} & accepted
    exam = {"evaluation year 2023", "appraisal year 1990", "ballot level poor", "appraisal trial_quality 100"}
    assert exam <= accepted
    refused = {"evaluation year 10000", "evaluation year 2023.0", "appraisal year a string"}
    refused |= {"ballot voter raw member id", "ballot with a raw voter_id", "evaluation year 1989"}
    assert not refused & accepted


def test_a_refusal_names_the_field_and_the_fault():
    refusals = {
        name: str(decisions(raw)[1]) for name, raw in HOSTILE if isinstance(decisions(raw)[1], ContractError)
    }
    assert refusals["member_id trailing newline"].startswith("invalid data: member_id: "), refusals
    assert "regex" in refusals["member_id trailing newline"]
    assert refusals["hours a string"] == "invalid data: hours: Expected `float`, got `str`"
    assert refusals["data time Unix seconds"] == "invalid data: started_at: Expected `datetime`, got `int`"
    assert refusals["envelope time no offset"].startswith("invalid envelope: time: ")
    assert (
        "credit_code: invalid unified social credit code: check character"
        in refusals["credit code wrong check"]
    )
    assert refusals["subject of another branch"] == "subject must equal data.branch_id"
    assert refusals["unknown type"] == "unknown event type com.example.other.v1"
    assert refusals["type of a future version"].startswith("unsupported schema version")
    assert refusals["data with an unknown field"].startswith("invalid data: ")
    assert "'ratio'" in refusals["extension float"]
    assert refusals["hours NaN"].startswith("invalid envelope: body: invalid JSON")
    assert max(len(r) for r in refusals.values()) < 700  # each fits in a dead-letter header


def test_a_refusal_quoting_a_huge_value_is_cut_short():
    base = envelope_of("volunteer", data_of("volunteer"))
    for field in ("specversion", "type", "datacontenttype"):
        env = Pairs(list(base.items))
        env.set(field, "x" * 2**20)
        refusal = decisions(raw_of(env))[1]
        assert isinstance(refusal, ContractError) and len(str(refusal)) < 700, field


# --- records generated from the contract ----------------------------------------------------------

ids = st.from_regex(fast.anchored(ID_PATTERN), fullmatch=True)
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
line_chars = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=BIDI)
lines = st.text(line_chars, min_size=1, max_size=200)
notes = st.text(st.one_of(line_chars, st.sampled_from("\t\n\r")), max_size=300)
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2024, 6, 30), timezones=offsets)


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    """A time as senders write it: T or t, Z or an offset, 0 to 9 fraction digits."""
    at = draw(instants)
    off = at.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds()) // 60
    zone = (
        "Z"
        if not minutes and draw(st.booleans())
        else f"{'+-'[minutes < 0]}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    )
    digits = draw(st.integers(0, 9))
    fraction = "." + draw(st.text("0123456789", min_size=digits, max_size=digits)) if digits else ""
    text = f"{at:%Y-%m-%d}T{at:%H:%M:%S}{fraction}{zone}"
    return text.lower() if draw(st.integers(0, 9)) == 0 else text


hours = st.one_of(st.integers(1, 24), st.floats(0, 24, exclude_min=True))
scores = st.one_of(st.integers(0, 100), st.floats(0, 100))


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    first = draw(st.text(ALPHABET, min_size=17, max_size=17))
    return first + check_character(first)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Absent, null, or a value."""
    return st.one_of(st.just(ABSENT), st.none(), strategy)


ABSENT = object()


@st.composite
def valid_records(draw: st.DrawFn) -> tuple[str, bool, Pairs]:
    """(stream, voided, envelope) of a record the contract accepts, fields in any order."""
    stream = draw(st.sampled_from([s.value for s in Stream]))
    voided = draw(st.integers(0, 4)) == 0
    branch = draw(ids)
    if voided:
        data: dict[str, Any] = {"event_id": draw(ids), "record_occurred_at": draw(rfc3339())}
        data["reason"] = draw(st.text(st.one_of(line_chars, st.just("\n")), min_size=1, max_size=500))
    elif stream == "volunteer":
        kind = draw(st.sampled_from(DeploymentKind)).value
        data = {"kind": kind, "started_at": draw(rfc3339()), "hours": draw(hours), "place": draw(lines)}
        data["note"] = draw(optional(notes))
    elif stream == "liaison":
        kind, channel = draw(st.sampled_from(ContactKind)).value, draw(st.sampled_from(Channel)).value
        enterprise = {"name": draw(lines), "credit_code": draw(credit_codes())}
        data = {"kind": kind, "channel": channel, "enterprise": enterprise, "occurred_at": draw(rfc3339())}
        data["note"] = draw(optional(notes))
    elif (exam := draw(st.sampled_from([None, None, *EXAM_TYPES]))) is not None:
        data = {"year": draw(st.integers(1990, 2024))}
        if exam == "evaluation":
            data |= {"voter_hash": draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))}
            data |= {"level": draw(st.sampled_from(EvaluationLevel)).value}
        else:
            data |= {"source": draw(ids), "trial_quality": draw(scores)}
            data |= {"performance": draw(st.sampled_from(Performance)).value}
    else:
        kind = draw(st.sampled_from(TrainingKind)).value
        data = {"kind": kind, "session_id": draw(ids), "completed_at": draw(rfc3339())}
        data["score"] = draw(optional(scores))
    if not voided:
        data["member_id"] = draw(ids)
    data["branch_id"] = branch
    items = [(k, v) for k, v in data.items() if v is not ABSENT]
    env = envelope_of(stream, Pairs(draw(st.permutations(items))), voided)
    if "year" in data:
        env.set("type", EXAM_TYPES["evaluation" if "level" in data else "appraisal"])
    env.set("id", draw(st.one_of(ids, ids.map(lambda i: f"{RESERVED_ID_PREFIX}{i}"[:128]))))
    env.set(
        "source",
        draw(
            st.text(max_size=200, min_size=1).filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s))
        ),
    )
    env.set("time", draw(rfc3339()))
    if draw(st.booleans()):
        env.drop("datacontenttype")
    names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(lambda n: n not in fast.ENVELOPE_FIELDS)
    values = st.one_of(
        st.text(max_size=50).filter(lambda s: s.isprintable()),
        st.booleans(),
        st.integers(-(2**31), 2**31 - 1),
    )
    env.items += draw(st.lists(st.tuples(names, values), max_size=2, unique_by=lambda kv: kv[0]))
    return stream, voided, Pairs(draw(st.permutations(env.items)))


SETTINGS = settings(
    max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@SETTINGS
@given(record=valid_records())
def test_a_valid_record_is_accepted_by_both_with_the_same_values(record):
    _, _, env = record
    assert assert_same_decision(raw_of(env))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.sampled_from(["m-001\n", "4", "2024-05-06T09:00:00", "2024-05-06T09:00:00+08:00", CODE, "visit"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
tails = st.sampled_from(
    ["\n", "\r\n", " ", "\x00", "\u202e", "\u2028", "\ud800", "x" * 200, "-", ":", "$", "."]
)


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    """A valid record with one to three things changed: a value replaced, stretched or retyped,
    a field dropped, added or repeated, at the envelope or in its data."""
    _, _, env = draw(valid_records())
    data = env.get("data")
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([env, data, data]))
        if not target.items:
            continue
        key, value = draw(st.sampled_from(target.items))
        action = draw(
            st.sampled_from(["replace", "append", "prepend", "drop", "add", "repeat", "number", "string"])
        )
        if action == "replace":
            target.set(key, draw(json_values))
        elif action in ("append", "prepend") and isinstance(value, str):
            tail = draw(tails)
            target.set(key, value + tail if action == "append" else tail + value)
        elif action == "drop":
            target.drop(key)
        elif action == "add":
            target.items.append(
                (draw(st.sampled_from([key + "x", "id", "extra", "note", "score", "ab"])), draw(json_values))
            )
        elif action == "repeat":
            target.items.insert(draw(st.integers(0, len(target.items))), (key, draw(json_values)))
        elif action == "number":
            target.set(
                key,
                draw(
                    st.sampled_from([Token("NaN"), Token("1e400"), Token("9" * 30), 0, -1, 24.5, 100.5, True])
                ),
            )
        elif action == "string" and isinstance(value, int | float) and not isinstance(value, bool):
            target.set(key, str(value))
    return raw_of(env)


@SETTINGS
@given(raw=mutated_records())
def test_a_mutated_record_is_decided_alike(raw):
    assert_same_decision(raw)


@st.composite
def stretched_records(draw: st.DrawFn) -> bytes:
    """A valid record with one string, wherever it is, given a tail or a head (a newline, a control
    or bidi character, a lone surrogate) or grown to a length limit and one past it."""
    _, _, env = draw(valid_records())
    data = env.get("data")
    enterprise = data.get("enterprise")
    holders = [env, data] + ([Pairs(list(enterprise.items()))] if isinstance(enterprise, dict) else [])
    strings = [(h, k) for h in holders for k, v in h.items if isinstance(v, str) and k != "type"]
    holder, key = draw(st.sampled_from(strings))
    value = holder.get(key)
    how = draw(st.sampled_from(["append", "prepend", "grow"]))
    if how == "grow":
        size = draw(st.sampled_from([128, 129, 200, 201, 500, 501, 2000, 2001]))
        value = (value * (size // max(len(value), 1) + 1))[:size]
    else:
        tail = draw(tails)
        value = value + tail if how == "append" else tail + value
    holder.set(key, value)
    if holder is not env and holder is not data:  # the enterprise, rebuilt from its pairs
        data.set("enterprise", dict(holder.items))
    return raw_of(env)


@SETTINGS
@given(raw=stretched_records())
def test_a_stretched_string_is_decided_alike(raw):
    assert_same_decision(raw)


# --- the two definitions stay one ----------------------------------------------------------------


CONSTRAINTS = (
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
)


def shape(schema: dict, defs: dict) -> dict:
    """What a JSON schema demands of a value, the same however pydantic or msgspec spells it."""
    if "$ref" in schema:
        return shape(defs[schema["$ref"].rpartition("/")[2]], defs) | {
            k: v for k, v in schema.items() if k == "default"
        }
    if "anyOf" in schema:
        (branch,) = [shape(b, defs) for b in schema["anyOf"] if b != {"type": "null"}]
        return {**branch, "nullable": True, "default": schema.get("default", "required")}
    out: dict[str, Any] = {k: schema[k] for k in CONSTRAINTS if k in schema}
    out["default"] = schema.get("default", "required")
    if "pattern" in schema:
        pattern = schema["pattern"]
        out["pattern"] = fast.anchored(pattern) if pattern.endswith("$") else pattern
    if "const" in schema or "enum" in schema:
        out["enum"] = sorted([schema["const"]] if "const" in schema else schema["enum"])
    elif "type" in schema:
        out["type"] = schema["type"]
    if "properties" in schema:
        out["properties"] = {k: shape(v, defs) for k, v in schema["properties"].items()}
        out["required"] = sorted(schema.get("required", []))
        for name in set(out["properties"]) - set(out["required"]):
            out["properties"][name]["default"] = out["properties"][name].get("default")
    return out


def shapes(model: Any, struct: Any) -> tuple[dict, dict]:
    contract = model.model_json_schema()
    mirrored = msgspec.json.schema(struct)
    return shape(contract, contract.get("$defs", {})), shape(mirrored, mirrored["$defs"])


@pytest.mark.parametrize("name", sorted(fast.PAYLOADS))
def test_each_payload_demands_what_the_contract_demands(name):
    """Fields, required ones, defaults, types, lengths, patterns, bounds, enum values: a change to
    one definition and not the other fails here before any record finds it."""
    model = next(t.model for t in EVENT_TYPES.values() if t.model.__name__ == name)
    contract, mirrored = shapes(model, fast.PAYLOADS[name])
    assert mirrored == contract
    assert fast.PAYLOADS[name].time_field == model.time_field  # type: ignore[attr-defined]


def test_the_envelope_demands_what_the_contract_demands():
    contract, mirrored = shapes(CloudEvent, fast.Envelope)
    # data: an object in the contract, raw JSON decoded by its type in the mirror
    for s in (contract, mirrored):
        del s["properties"]["data"]
    assert mirrored == contract


@pytest.mark.parametrize("pattern", [ID_PATTERN, LINE_PATTERN])
def test_an_anchored_pattern_refuses_a_trailing_newline_where_python_s_dollar_would_not(pattern):
    assert re.search(pattern, "m-001\n") and not re.search(fast.anchored(pattern), "m-001\n")
    assert re.search(fast.anchored(pattern), "m-001")


def test_fraction_digits_past_the_microsecond_are_cut_not_rounded_into_the_next_month():
    at = "2024-01-31T23:59:59.9999999+08:00"  # .NET's "o" format writes seven digits
    raw = raw_of(envelope_of("liaison", data_of("liaison", occurred_at=at), time=at))
    for decided in decisions(raw):
        assert not isinstance(decided, ContractError), decided
        assert decided.payload.occurred_at.month == 1 and decided.payload.occurred_at.microsecond == 999999
        assert decided.envelope.time.microsecond == 999999
