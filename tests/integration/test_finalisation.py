"""Closing the year against the running system: a court's 2024 finalised as version 1 does not
move when a late record moves the live answer; a re-finalisation is version 2 with its changes
listed; appeals inside and outside the window, decided once; the audit trail has every act; and
a fresh follower rebuilds the same versions from the topic alone."""

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from services.scoring.api.finalisation_log import FinalisationLog, envelope
from services.scoring.core.finalisation import SHANGHAI, Finalised, appeals_until, key_of
from shared import dev_issuer
from shared.finalisations import FINALISATIONS
from shared.kafka import KafkaPublisher
from shared.settings import KafkaSettings
from tests.conftest import BOOTSTRAP, URLS, new_id, poll
from tests.support import completion, contact, post_batch

SCORING = URLS["scoring"]
CST = timezone(timedelta(hours=8))
FULL_CADENCE = {  # every required activity of 2024 for a one-member branch
    "lecture_hall": [f"2024-{m:02d}" for m in range(1, 13)],
    "branch_committee": [f"2024-{m:02d}" for m in range(1, 13)],
    "party_group_meeting": [f"2024-{m:02d}" for m in range(1, 13)],
    "branch_assembly": ["2024-02", "2024-05", "2024-08", "2024-11"],
    "party_lecture": ["2024-02", "2024-05", "2024-08", "2024-11"],
    "integrity_theme_day": ["2024-03", "2024-06", "2024-09", "2024-12"],
    "integrity_pledge": ["2024-01"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(method: str, path: str, token: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=SCORING, timeout=60) as client:
        return await client.request(method, path, headers=bearer(token), **kwargs)


def full_year(branch: str) -> list[dict]:
    return [
        completion(branch, datetime.fromisoformat(f"{m}-10T09:00:00+08:00"), kind, f"{branch}-{kind}-{m}")
        for kind, months in FULL_CADENCE.items()
        for m in months
    ]


def court_first(body: dict) -> str | None:
    """The branch with court rank 1 in a content's advanced branches."""
    return next((e["branch_id"] for e in body["advanced_branches"] if e["court_rank"] == 1), None)


async def finalisations(token: str, court: str) -> dict:
    r = await call("GET", "/v1/finalisations", token, params={"year": "2024", "court": court})
    assert r.status_code == 200, r.text
    return r.json()


async def settled(token: str, court: str, quiet_s: float = 6, deadline_s: float = 120) -> None:
    """Wait until the court's live content has not changed for `quiet_s`: scoring is asynchronous,
    and p may lead before all of q's year is folded (then the content still moves, and a second
    finalisation would rightly be a version 2)."""
    loop = asyncio.get_running_loop()
    began = since = loop.time()
    last = None
    while True:
        content = (await finalisations(token, court))["live"]["content"]
        now = loop.time()
        if content != last:
            last, since = content, now
        elif now - since >= quiet_s:
            return
        assert now - began < deadline_s, f"the live content of {court} still moved after {deadline_s}s"
        await asyncio.sleep(2)


@pytest.fixture(scope="module")
async def court(tokens) -> dict:
    """A court of two fully compliant one-member branches, p ahead of q; its 2024 finalised."""
    c, p, q = new_id("court-fin"), new_id("fin-p"), new_id("fin-q")
    async with httpx.AsyncClient(timeout=60) as client:
        for branch in (p, q):
            body = {"name": f"结案支部 {branch}", "court": c, "members": 1}
            r = await client.put(
                f"{SCORING}/v1/branches/{branch}", json=body, headers=bearer(tokens["admin"])
            )
            assert r.status_code == 200, r.text
        ahead = [
            contact(p, datetime(2024, 4, 2, 10, tzinfo=CST)),
            contact(p, datetime(2024, 4, 3, 10, tzinfo=CST)),
        ]
        await post_batch(client, "training", tokens["writer"], full_year(p) + full_year(q))
        await post_batch(client, "liaison", tokens["writer"], ahead)
    admin = dev_issuer.mint(["court_admin"], c, None, new_id("fin-admin"), 3600)
    live = await poll(
        lambda: finalisations(admin, c),
        lambda body: (
            court_first(body["live"]["content"]) == p
            and {e["branch_id"] for e in body["live"]["content"]["advanced_branches"]} >= {p}
        ),
        deadline_s=90,
    )
    assert court_first(live["live"]["content"]) == p, live
    await settled(admin, c)
    r = await call("POST", "/v1/finalisations", admin, json={"year": "2024", "court": c})
    assert r.status_code == 201, r.text
    return {"court": c, "p": p, "q": q, "admin": admin, "v1": r.json()}


async def test_a_finalised_version_does_not_move_while_the_live_answer_does(court, tokens):
    c, p, q, admin, v1 = court["court"], court["p"], court["q"], court["admin"], court["v1"]
    assert v1["version"] == 1 and v1["kind"] == "frozen" and v1["changes_from_previous"] is None
    assert v1["sections"] == ["advanced_branches", "grades", "excellent"] and court_first(v1["content"]) == p
    graded = {(g["member_id"], g["branch_id"]): g for g in v1["content"]["grades"]}
    assert {("m-1", p), ("m-1", q)} <= graded.keys()
    assert all(
        g["grade"] in ("good", "fairly_good", "average", "poor") and g["reasons"] for g in graded.values()
    )
    assert all("name" not in g for g in graded.values())  # member ids only
    assert v1["actor"].startswith("oidc:fin-admin-")
    again = await call("POST", "/v1/finalisations", admin, json={"year": "2024", "court": c})
    assert again.status_code == 409 and "nothing changed since version 1" in again.json()["detail"]

    late = [contact(q, datetime(2024, m, 5, 10, tzinfo=CST), "pre_litigation_resolution") for m in (5, 6, 7)]
    async with httpx.AsyncClient(timeout=60) as client:
        await post_batch(client, "liaison", tokens["writer"], late)
    moved = await poll(
        lambda: finalisations(tokens["reader"], c),
        lambda body: court_first(body["live"]["content"]) == q,
        deadline_s=90,
    )
    assert court_first(moved["live"]["content"]) == q and moved["live"]["kind"] == "live"
    (frozen,) = moved["versions"]
    assert frozen["kind"] == "frozen" and frozen["content"] == v1["content"]  # the late record moved nothing
    changes = moved["live"]["changes_since_latest"]["advanced_branches"]
    assert q in {e["branch_id"] for e in changes["added"]} | {e["key"] for e in changes["changed"]}

    r = await call("POST", "/v1/finalisations", admin, json={"year": "2024", "court": c})
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert v2["version"] == 2 and court_first(v2["content"]) == q
    listed = v2["changes_from_previous"]["advanced_branches"]
    assert q in {e["branch_id"] for e in listed["added"]} | {e["key"] for e in listed["changed"]}
    read = await call("GET", f"/v1/finalisations/{c}/2024/1", tokens["reader"])
    assert read.status_code == 200 and read.json()["content"] == v1["content"]
    diff = await call("GET", f"/v1/finalisations/{c}/2024/2/diff", admin)
    assert diff.status_code == 200 and diff.json()["changes"] == v2["changes_from_previous"]
    assert (await call("GET", f"/v1/finalisations/{c}/2024/3", admin)).status_code == 404


async def test_who_may_finalise_and_read(court, tokens):
    c = court["court"]
    other = dev_issuer.mint(["court_admin"], new_id("court-other"), None, None, 600)
    for token in (other, tokens["reader"], dev_issuer.mint(["secretary"], c, court["p"], None, 600)):
        r = await call("POST", "/v1/finalisations", token, json={"year": "2024", "court": c})
        assert r.status_code == 403, r.text
    r = await call("GET", f"/v1/finalisations/{c}/2024/1", other)
    assert r.status_code == 403 and "court" in r.json()["detail"]
    own_reader = dev_issuer.mint(["reader"], c, None, None, 600)
    assert (await finalisations(own_reader, c))["versions"][0]["version"] == 1
    empty = await call(
        "POST", "/v1/finalisations", tokens["admin"], json={"year": "2024", "court": new_id("c")}
    )
    assert empty.status_code == 409 and "nothing to freeze" in empty.json()["detail"]


async def test_appeals_inside_the_window_are_decided_once(court, tokens):
    c, p, q, admin = court["court"], court["p"], court["q"], court["admin"]
    member = dev_issuer.mint(["member"], c, p, "m-fin-own", 600)
    secretary = dev_issuer.mint(["secretary"], c, p, None, 600)
    own = {
        "year": "2024",
        "court": c,
        "target": {"member_id": "m-fin-own"},
        "reason": "我的积分漏记了 missing",
    }
    r = await call("POST", "/v1/appeals", member, json=own)
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "open" and appeal["target"] == {"member_id": "m-fin-own"}
    assert appeal["reason"] is None  # a member is no admin: reasons are for admins
    for token, target in ((member, {"member_id": "m-fin-else"}), (secretary, {"branch_id": q})):
        r = await call("POST", "/v1/appeals", token, json={**own, "target": target})
        assert r.status_code == 403, r.text
    r = await call("POST", "/v1/appeals", secretary, json={**own, "target": {"branch_id": p}})
    assert r.status_code == 201, r.text
    both = {"member_id": "m", "branch_id": p}
    assert (await call("POST", "/v1/appeals", admin, json={**own, "target": both})).status_code == 422

    decide = f"/v1/appeals/{appeal['appeal_id']}:decide"
    other_admin = dev_issuer.mint(["court_admin"], new_id("court-other"), None, None, 600)
    assert (
        await call("POST", decide, other_admin, json={"decision": "upheld", "reason": "x"})
    ).status_code == 403
    r = await call("POST", decide, admin, json={"decision": "upheld", "reason": "已补录 corrected"})
    assert r.status_code == 200 and r.json()["status"] == "upheld", r.text
    r = await call("POST", decide, admin, json={"decision": "dismissed", "reason": "again"})
    assert r.status_code == 409 and "decided already" in r.json()["detail"]

    listed = await call("GET", "/v1/appeals", admin, params={"year": "2024", "court": c})
    mine = next(a for a in listed.json() if a["appeal_id"] == appeal["appeal_id"])
    assert (mine["reason"], mine["decision_reason"], mine["status"]) == (
        own["reason"],
        "已补录 corrected",
        "upheld",
    )
    read = await call("GET", "/v1/appeals", tokens["reader"], params={"year": "2024", "court": c})
    assert read.status_code == 200 and all(a["reason"] is None for a in read.json())
    assert len(read.json()) >= 2


async def test_no_appeal_before_finalisation_or_after_the_window(tokens):
    fresh = new_id("court-fin")
    body = {"year": "2024", "court": fresh, "target": {"member_id": "m-1"}, "reason": "too early"}
    r = await call("POST", "/v1/appeals", tokens["admin"], json=body)
    assert r.status_code == 409 and "not finalised" in r.json()["detail"]
    then = datetime(2025, 1, 2, 10, tzinfo=SHANGHAI)  # a version of long ago, written by a trusted producer
    event = Finalised(
        new_id("e"), fresh, "2024", 1, then, "test", "t", appeals_until(then, 7), {"grades": []}
    )
    publisher = KafkaPublisher(KafkaSettings(bootstrap_servers=BOOTSTRAP), client_id="test-finalisation")
    try:
        await publisher.publish(FINALISATIONS.name, key_of(fresh, "2024").encode(), envelope(event, "test"))
    finally:
        await publisher.stop()
    listed = await poll(lambda: finalisations(tokens["reader"], fresh), lambda b: bool(b["versions"]))
    assert listed["versions"][0]["appeals_until"].startswith("2025-01-10T00:00:00")
    assert listed["appeal_window_open"] is False
    r = await call("POST", "/v1/appeals", tokens["admin"], json={**body, "reason": "too late"})
    assert r.status_code == 409 and "closed at 2025-01-10T00:00:00+08:00" in r.json()["detail"]


async def test_every_act_is_audited(court, tokens):
    c = court["court"]
    r = await poll(
        lambda: call("GET", "/v1/audit", tokens["admin"], params={"target": f"{c}:2024"}),
        lambda r: r.status_code == 200 and len(r.json()["items"]) >= 1,
    )
    acts = r.json()["items"]
    assert {a["action"] for a in acts} == {"finalisation.create"} and all(a["court"] == c for a in acts)
    r = await poll(
        lambda: call("GET", "/v1/audit", tokens["admin"], params={"court": c, "action": "appeal.file"}),
        lambda r: r.status_code == 200 and len(r.json()["items"]) >= 1,
    )
    assert all(a["target"].startswith("ap-") for a in r.json()["items"])


async def test_a_fresh_follower_rebuilds_the_same_versions_from_the_topic(court, tokens):
    c = court["court"]
    served = await finalisations(tokens["reader"], c)
    log = FinalisationLog(KafkaSettings(bootstrap_servers=BOOTSTRAP))
    task = asyncio.create_task(log.run())
    try:
        await poll(lambda: asyncio.sleep(0, log.caught_up), bool, deadline_s=60)
        assert log.caught_up
        rebuilt = log.state(c, "2024")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [v.version for v in rebuilt.versions] == [v["version"] for v in served["versions"]]
    for mine, theirs in zip(rebuilt.versions, served["versions"], strict=True):
        assert mine.sections == theirs["content"] and mine.actor == theirs["actor"]
        assert mine.time == datetime.fromisoformat(theirs["time"])
