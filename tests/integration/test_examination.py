"""The yearly examination end to end: ballots and appraisals through the training service (the voter
only as a salted hash on Kafka), folded by the worker, graded by GET /v1/grades and placed by
GET /v1/excellent: a superseding ballot, a 409 conflict and a void included."""

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import URLS, dev_env, new_id, poll
from tests.integration.test_intake_kafka import Tail

CST = timezone(timedelta(hours=8))
TOPIC = "training.completions.v1"


@pytest.fixture
async def clients(tokens):
    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {tokens[token]}"})

    async with client("writer") as writer, client("reader") as reader, client("admin") as admin:
        yield writer, reader, admin


def ballot(voter: str, member: str, branch: str, level: str) -> dict:
    return {"voter_id": voter, "member_id": member, "branch_id": branch, "year": 2024, "level": level}


def appraisal(member: str, branch: str, quality: float, performance: str) -> dict:
    return {
        "member_id": member,
        "branch_id": branch,
        "year": 2024,
        "source": "trial-system",
        "trial_quality": quality,
        "performance": performance,
    }


async def post(client: httpx.AsyncClient, resource: str, body: dict, status: int = 202) -> dict:
    r = await client.post(f"{URLS['training']}/v1/{resource}", json=body)
    assert r.status_code == status, r.text
    return r.json()


async def grades_of(reader: httpx.AsyncClient, branch: str) -> dict[str, dict]:
    r = await reader.get(f"{URLS['scoring']}/v1/grades", params={"year": "2024", "branch": branch})
    assert r.status_code == 200, r.text
    return {row["member_id"]: row for row in r.json()["members"]}


async def test_ballots_and_appraisals_grade_members_live(clients):
    writer, reader, admin = clients
    court, branch = new_id("court"), new_id("b")
    members = [new_id("m") for _ in range(3)]
    r = await admin.put(
        f"{URLS['scoring']}/v1/branches/{branch}", json={"name": "考察测试支部", "court": court, "members": 3}
    )
    assert r.status_code in (200, 201), r.text
    at = datetime(2024, 1, 10, 9, 0, tzinfo=CST).isoformat()
    pledges = [
        {
            "member_id": m,
            "branch_id": branch,
            "kind": "integrity_pledge",
            "session_id": f"p-{branch}",
            "completed_at": at,
        }
        for m in members
    ]
    r = await writer.post(f"{URLS['training']}/v1/completions:batch", json={"items": pledges})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    a, b, c = members
    async with Tail(TOPIC) as tail:
        first = await post(writer, "evaluations", {"id": new_id("ev"), **ballot(b, a, branch, "poor")})
        # The same voter on the same member and year under a new id: the later ballot counts.
        await post(writer, "evaluations", {"id": new_id("ev"), **ballot(b, a, branch, "good")})
        await post(writer, "evaluations", {"id": new_id("ev"), **ballot(c, a, branch, "fairly_good")})
        voided = await post(writer, "evaluations", {"id": new_id("ev"), **ballot(a, b, branch, "poor")})
        await post(writer, "appraisals", {"id": new_id("ap"), **appraisal(a, branch, 92, "excellent")})
        await post(writer, "appraisals", {"id": new_id("ap"), **appraisal(c, branch, 60, "incompetent")})
        await tail.until(lambda rs: sum(branch.encode() == r.key for r in rs) >= 6)
    on_kafka = [r.value for r in tail.records if r.key == branch.encode()]
    assert len(on_kafka) == 6
    salt = dev_env()["TRAINING_VOTER_SALT"].encode()
    ballots = [v for v in on_kafka if b"training.evaluated" in v]
    assert len(ballots) == 4
    for value in ballots:  # the voter is on Kafka only as its salted hash
        assert b'"voter_id"' not in value
    assert hmac.new(salt, b.encode(), hashlib.sha256).hexdigest().encode() in ballots[0]
    # b and c voted on a: neither raw id travels in those ballots, only the hashes
    assert not any(f'"{m}"'.encode() in v for v in ballots[:3] for m in (b, c))

    # The same id with other content: 409, as on every stream.
    conflict = await post(writer, "evaluations", {"id": first["id"], **ballot(b, a, branch, "average")}, 409)
    assert "different content" in conflict["detail"]
    r = await writer.post(
        f"{URLS['training']}/v1/evaluations/{voided['id']}:void", json={"reason": "cast by mistake"}
    )
    assert r.status_code == 202, r.text

    def settled(rows: dict[str, dict]) -> bool:
        return (
            set(members) <= rows.keys()
            and rows[a]["ballots"] == {"good": 1, "fairly_good": 1, "average": 0, "poor": 0}
            and sum(rows[b]["ballots"].values()) == 0  # its only ballot voided
            and bool(rows[c]["appraisals"])
        )

    rows = await poll(lambda: grades_of(reader, branch), settled, deadline_s=60, every_s=0.5)
    assert settled(rows), rows
    assert rows[a]["appraisals"] == [
        {"source": "trial-system", "trial_quality": 92.0, "performance": "excellent"}
    ]
    assert rows[c]["grade"] == "poor" and any("不称职" in reason for reason in rows[c]["reasons"])
    assert rows[a]["label"] in ("好", "较好") and rows[a]["grade"] in ("good", "fairly_good")
    assert all(r["court"] == court for r in rows.values())

    r = await reader.get(f"{URLS['scoring']}/v1/grades", params={"year": "2024", "court": court})
    assert r.status_code == 200
    answer = r.json()
    assert sum(answer["distribution"]["courts"][court].values()) == 3
    assert answer["distribution"]["branches"][branch]["poor"] >= 1

    r = await reader.get(f"{URLS['scoring']}/v1/excellent", params={"year": "2024", "court": court})
    assert r.status_code == 200, r.text
    pools = r.json()["courts"][court]["pools"]
    other = next(p for p in pools if p["name"] == "other")
    assert other["members"] == 3 and other["quota"] == 1  # ceil(3 × 15%)
    assert other["arithmetic"] == "ceil(3 × 15%) = ceil(0.45) = 1"
    assert all(p["member_id"] != c for p in other["places"])  # graded 较差: never excellent


async def test_a_ballot_without_its_voter_or_with_a_future_year_is_refused(clients):
    writer, _, _ = clients
    body = ballot("m-1", "m-2", new_id("b"), "good")
    del body["voter_id"]
    await post(writer, "evaluations", body, 422)
    await post(writer, "evaluations", ballot("m-1", "m-2", new_id("b"), "good") | {"year": 2999}, 422)
    await post(writer, "appraisals", appraisal("m-2", new_id("b"), 101, "competent"), 422)
