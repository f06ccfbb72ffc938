"""Hostile request bodies for the intake services and the branch registry, each with a marker.

Every record here is valid but for its one attack, has an id of its own and carries MARK (as its
branch, or as its member where the branch is the attack), so whatever a service wrongly kept can be
found again.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count

from shared.contracts import ID_PATTERN
from tests.conftest import new_id

MARK = new_id("sec-hostile")  # the branch of every record here; a member id when the branch is the attack
RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}
BASE = {
    "volunteer": {
        "kind": "legal_publicity",
        "started_at": "2024-05-06T09:00:00+08:00",
        "hours": 2,
        "place": "运河区",
    },
    "liaison": {
        "kind": "visit",
        "channel": "offline",
        "enterprise": {"name": "沧州某机械制造有限公司", "credit_code": "91350100M000100Y43"},
        "occurred_at": "2024-05-06T09:00:00+08:00",
    },
    "training": {
        "kind": "lecture_hall",
        "session_id": "lecture-2024-05",
        "completed_at": "2024-05-06T09:00:00+08:00",
    },
}
DEEP = 50_000  # past the JSON parser's recursion limit
NESTED = 500  # parsed, then refused by type
MB = 1024 * 1024
_ids = count()


def record(stream: str, **changes: object) -> dict:
    """A valid record of `stream` with the marker and a fresh id, then `changes` applied."""
    body = {"id": f"{MARK}-{next(_ids)}", "member_id": f"{MARK}-m", "branch_id": MARK, **BASE[stream]}
    body.update(changes)
    return body


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class Hostile:
    name: str
    stream: str
    body: bytes | Iterator[bytes]
    statuses: tuple[int, ...] = (422,)
    headers: dict[str, str] = field(default_factory=dict)
    suffix: str = ""
    void_id: str | None = None  # an id that must not have a receipt afterwards
    resource: str | None = None  # another resource of the stream's service (default: RESOURCES')

    @property
    def path(self) -> str:
        return f"/v1/{self.resource or RESOURCES[self.stream]}{self.suffix}"


def as_json(name: str, stream: str, body: dict, statuses: tuple[int, ...] = (422,), **kw: object) -> Hostile:
    """A case from a dict (lone surrogates survive: json.dumps escapes them); an id that could name a
    receipt is checked for one afterwards."""
    given = body.get("id")
    void_id = given if isinstance(given, str) and re.fullmatch(ID_PATTERN, given) else None
    return Hostile(name, stream, json.dumps(body).encode(), statuses, void_id=void_id, **kw)  # type: ignore[arg-type]


def chunks(total: int) -> Iterator[bytes]:
    yield b'{"note": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}'


def hostile_records(stream: str) -> list[Hostile]:
    """The attacks every stream gets; the time and member fields are common to all three."""
    r = lambda **c: record(stream, **c)  # noqa: E731
    return [
        as_json("operator as member id", stream, r(member_id={"$gt": ""})),
        as_json("operator as branch id", stream, r(branch_id={"$ne": None})),
        as_json("$where as id", stream, r(id="$where")),
        as_json("operator as id", stream, r(id={"$gt": ""})),
        as_json("regex operator as kind", stream, r(kind={"$regex": ".*"})),
        as_json("$-key at the top", stream, r(**{"$where": "sleep(10000)"})),
        as_json("dotted key", stream, r(**{"branch_id.x": 1})),
        as_json("id with a dot", stream, r(id=f"{MARK}.x")),
        as_json("id with a trailing newline", stream, r(id=f"{MARK}\n")),
        as_json("id of 10,000 characters", stream, r(id="a" * 10_000)),
        as_json("branch of 1 MB", stream, r(branch_id="b" * MB)),
        as_json("fullwidth branch", stream, r(branch_id="ｚｙ-civil-1")),
        as_json("zero-width space in branch", stream, r(branch_id="zy\u200bcivil")),
        as_json("homoglyph branch", stream, r(branch_id="zу-civil-1")),  # a Cyrillic у
        as_json("NUL in the member id", stream, r(member_id="m\x001")),
        as_json("time as an operator", stream, r(**{_time(stream): {"$gt": ""}})),
        as_json("time without offset", stream, r(**{_time(stream): "2024-05-06T09:00:00"})),
        as_json("time far in the future", stream, r(**{_time(stream): "9999-12-31T23:59:59+00:00"})),
        as_json("kind as a list", stream, r(kind=[BASE[stream]["kind"]])),
        as_json("nested objects", stream, r(member_id=nested(NESTED))),
        Hostile(
            "nesting past the parser", stream, b'{"member_id": ' + b"[" * DEEP + b"]" * DEEP + b"}", (400,)
        ),
        Hostile("malformed JSON", stream, b'{"member_id": ', (422,)),
        Hostile("invalid UTF-8", stream, b'{"member_id": "\xc0\xaf"}', (400, 422)),
        Hostile("a list", stream, b"[]"),
        Hostile("null", stream, b"null"),
        Hostile("a number with 5000 digits", stream, b'{"hours": ' + b"9" * 5000 + b"}", (400, 422)),
        Hostile("duplicate key, the second an operator", stream, _duplicate(record(stream))),
        as_json("JSON sent as text/plain", stream, r(), headers={"content-type": "text/plain"}),
        as_json("Idempotency-Key operator", stream, r(id=None), headers={"Idempotency-Key": "$gt"}),
        Hostile("body over the limit", stream, b'{"note": "' + b"x" * (5 * MB) + b'"}', (413,)),
        Hostile("chunked body over the limit", stream, chunks(5 * MB), (413,)),
    ]


def _time(stream: str) -> str:
    return {"volunteer": "started_at", "liaison": "occurred_at", "training": "completed_at"}[stream]


def _duplicate(body: dict) -> bytes:
    text = json.dumps(body)
    return text[:-1].encode() + b', "member_id": {"$gt": ""}}'


def by_stream() -> list[Hostile]:
    texts = {
        "volunteer": [
            ("NUL in place", {"place": "a\x00b"}),
            ("ESC in note", {"note": "\x1b[31mred"}),
            ("bidi override in place", {"place": "abc\u202egnp.exe"}),
            ("lone surrogate in place", {"place": "a\ud800b"}),
            ("place of 10,000 characters", {"place": "p" * 10_000}),
            ("note of 1 MB", {"note": "n" * MB}),
            ("hours as a string", {"hours": "4"}),
            ("hours as true", {"hours": True}),
            ("hours as an operator", {"hours": {"$gt": 0}}),
        ],
        "liaison": [
            ("operator as enterprise", {"enterprise": {"$gt": ""}}),
            ("$-key in the enterprise", {"enterprise": {**BASE["liaison"]["enterprise"], "$set": {"a": 1}}}),  # type: ignore[dict-item]
            (
                "NUL in the enterprise name",
                {"enterprise": {"name": "a\x00b", "credit_code": "91350100M000100Y43"}},
            ),
            ("credit code as an operator", {"enterprise": {"name": "x", "credit_code": {"$regex": "^9"}}}),
        ],
        "training": [
            ("score as a string", {"score": "92"}),
            ("score of 1e308", {"score": 1e308}),
            ("session id with a slash", {"session_id": "../../etc/passwd"}),
        ],
    }
    cases = [as_json(name, s, record(s, **c)) for s, items in texts.items() for name, c in items]
    cases += [
        Hostile(
            "NaN hours",
            "volunteer",
            json.dumps(record("volunteer")).replace('"hours": 2', '"hours": NaN').encode(),
        ),
        Hostile(
            "Infinity hours",
            "volunteer",
            json.dumps(record("volunteer")).replace('"hours": 2', '"hours": 1e999').encode(),
        ),
    ]
    return cases


def batches() -> list[Hostile]:
    cases = []
    for stream in RESOURCES:
        many = [record(stream, member_id="m\x00"), record(stream, member_id={"$gt": ""})]
        one = record(stream)
        cases += [
            Hostile("batch of 501", stream, json.dumps({"items": [one] * 501}).encode(), suffix=":batch"),
            Hostile("batch items not objects", stream, b'{"items": [["$where"]]}', suffix=":batch"),
            Hostile(
                "batch with a $-key",
                stream,
                json.dumps({"items": [one], "$where": 1}).encode(),
                suffix=":batch",
            ),
            Hostile(
                "batch of hostile items",
                stream,
                json.dumps({"items": many}).encode(),
                (200,),
                suffix=":batch",
            ),
        ]
    return cases


def voids() -> list[Hostile]:
    fresh = f"{MARK}-void"
    return [
        Hostile("void reason with NUL", "volunteer", b'{"reason": "a\\u0000b"}', suffix=f"/{fresh}:void"),
        Hostile("void reason as operator", "volunteer", b'{"reason": {"$gt": ""}}', suffix=f"/{fresh}:void"),
        Hostile("void of an operator id", "volunteer", b'{"reason": "x"}', suffix="/%24where:void"),
        Hostile(
            "void path traversal", "volunteer", b'{"reason": "x"}', (404, 422), suffix="/..%2F..%2Fetc:void"
        ),
    ]


# The training service's yearly examination (民主评议 ballots, appraisals): resources of their own.
EXAMINATION = {
    "evaluations": {"voter_id": f"{MARK}-v", "year": 2024, "level": "good"},
    "appraisals": {"year": 2024, "source": "审判管理系统", "trial_quality": 90, "performance": "competent"},
}


def examination() -> list[Hostile]:
    """The attacks on ballots and appraisals: ids, operators, types, years, sizes, batches."""
    cases = []
    for resource, base in EXAMINATION.items():

        def r(base: dict = base, **changes: object) -> dict:
            return {
                "id": f"{MARK}-{next(_ids)}",
                "member_id": f"{MARK}-m",
                "branch_id": MARK,
                **base,
                **changes,
            }

        on = {"resource": resource}
        cases += [
            as_json("operator as member id", "training", r(member_id={"$gt": ""}), **on),
            as_json("operator as branch id", "training", r(branch_id={"$ne": None}), **on),
            as_json("$where as id", "training", r(id="$where"), **on),
            as_json("NUL in the member id", "training", r(member_id="m\x001"), **on),
            as_json("$-key at the top", "training", r(**{"$where": "sleep(10000)"}), **on),
            as_json("year as a string", "training", r(year="2024"), **on),
            as_json("year as an operator", "training", r(year={"$gt": 0}), **on),
            as_json("year far in the future", "training", r(year=9999), **on),
            as_json("year of 5000 digits", "training", r(year=int("9" * 300)), **on),
            as_json("nested objects", "training", r(member_id=nested(NESTED)), **on),
            Hostile("malformed JSON", "training", b'{"member_id": ', **on),  # type: ignore[arg-type]
            Hostile("null", "training", b"null", **on),  # type: ignore[arg-type]
            Hostile("body over the limit", "training", b'{"note": "' + b"x" * (5 * MB) + b'"}', (413,), **on),  # type: ignore[arg-type]
            Hostile(
                "batch of 501", "training", json.dumps({"items": [r()] * 501}).encode(), suffix=":batch", **on
            ),  # type: ignore[arg-type]
            Hostile(
                "batch of hostile items",
                "training",
                json.dumps({"items": [r(member_id="m\x00"), r(branch_id={"$gt": ""})]}).encode(),
                (200,),
                suffix=":batch",
                **on,  # type: ignore[arg-type]
            ),
        ]
    cases += [
        as_json(
            "voter as an operator", "training", {**_ballot(), "voter_id": {"$gt": ""}}, resource="evaluations"
        ),
        as_json("level as a list", "training", {**_ballot(), "level": ["good"]}, resource="evaluations"),
        as_json(
            "trial quality of 1e308",
            "training",
            {**_appraisal(), "trial_quality": 1e308},
            resource="appraisals",
        ),
        as_json(
            "trial quality as a string",
            "training",
            {**_appraisal(), "trial_quality": "90"},
            resource="appraisals",
        ),
        as_json(
            "performance as an operator",
            "training",
            {**_appraisal(), "performance": {"$ne": ""}},
            resource="appraisals",
        ),
    ]
    return cases


def _ballot() -> dict:
    return {
        "id": f"{MARK}-{next(_ids)}",
        "member_id": f"{MARK}-m",
        "branch_id": MARK,
        **EXAMINATION["evaluations"],
    }


def _appraisal() -> dict:
    return {
        "id": f"{MARK}-{next(_ids)}",
        "member_id": f"{MARK}-m",
        "branch_id": MARK,
        **EXAMINATION["appraisals"],
    }


CASES = [h for s in RESOURCES for h in hostile_records(s)] + by_stream() + batches() + voids() + examination()


BRANCH = {"name": "民一庭党支部", "court": "sec-court", "court_name": "沧州市中级人民法院", "members": 12}
BRANCH_CASES = [
    ("NUL in the name", {"name": "a\x00b"}, 422),
    ("bidi override in the name", {"name": "\u202eevil"}, 422),
    ("lone surrogate in the name", {"name": "a\ud800"}, 422),
    ("operator as name", {"name": {"$gt": ""}}, 422),
    ("operator as court", {"court": {"$ne": None}}, 422),
    ("$where as court", {"court": "$where"}, 422),
    ("dotted court", {"court": "a.b"}, 422),
    ("members as a string", {"members": "12"}, 422),
    ("members negative", {"members": -1}, 422),
    ("members of 10**30", {"members": 10**30}, 422),
    ("$set key", {"$set": {"members": 1}}, 422),
    ("court name over the 64 KB body limit", {"court_name": "c" * 70_000}, 413),
]
