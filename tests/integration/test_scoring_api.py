"""The leaders' API against the running system, with real posted events of all three streams."""

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import URLS, new_id, poll
from tests.support import completion, contact, deployment, post_batch

CST = timezone(timedelta(hours=8))
MARCH = datetime(2024, 3, 15, 10, tzinfo=CST)
SCORING = URLS["scoring"]
FULL_CADENCE = {  # every required activity of 2024 for a one-member branch
    "lecture_hall": [f"2024-{m:02d}" for m in range(1, 13)],
    "branch_committee": [f"2024-{m:02d}" for m in range(1, 13)],
    "party_group_meeting": [f"2024-{m:02d}" for m in range(1, 13)],
    "branch_assembly": ["2024-02", "2024-05", "2024-08", "2024-11"],
    "party_lecture": ["2024-02", "2024-05", "2024-08", "2024-11"],
    "integrity_theme_day": ["2024-03", "2024-06", "2024-09", "2024-12"],
    "integrity_pledge": ["2024-01"],
}


@pytest.fixture(scope="module")
async def world(tokens):
    """A court with four registered branches and a month of records for each."""
    court = new_id("court")
    a, b, c, d = (new_id(x) for x in "abcd")
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for branch, members in ((a, 2), (b, 4), (c, 1), (d, 1)):
            body = {"name": f"支部 {branch}", "court": court, "court_name": "测试法院", "members": members}
            r = await client.put(f"{SCORING}/v1/branches/{branch}", json=body, headers=headers)
            assert r.status_code == 200, r.text
        w = tokens["writer"]
        visits = [
            contact(a, MARCH, "visit"),
            contact(a, MARCH + timedelta(hours=1), "visit"),
            contact(a, MARCH, "judicial_suggestion"),
        ]
        ids = await post_batch(client, "liaison", w, visits)
        hours = [deployment(b, MARCH + timedelta(days=i), hours=24, member_id="b-1") for i in range(3)]
        await post_batch(client, "volunteer", w, hours)
        await post_batch(
            client,
            "training",
            w,
            [
                completion(c, MARCH, "lecture_hall", "lh-2024-03"),
                completion(c, MARCH, "branch_committee", "bc-2024-03"),
            ],
        )
        full = [
            completion(d, datetime.fromisoformat(f"{m}-10T09:00:00+08:00"), kind, f"{kind}-{m}")
            for kind, months in FULL_CADENCE.items()
            for m in months
        ]
        await post_batch(client, "training", w, full)
    world = {"court": court, "a": a, "b": b, "c": c, "d": d, "visit_ids": ids}
    expected = {"liaison": 3, "volunteer": 3, "training": 2 + len(full)}
    await wait_for_stats(tokens, court, lambda s: {k: v["records"] for k, v in s.items()} == expected)
    return world


async def get(tokens, path, **params) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(
            f"{SCORING}{path}", params=params, headers={"Authorization": f"Bearer {tokens['reader']}"}
        )
        assert r.status_code == 200, r.text
        return r.json()


async def wait_for_stats(tokens, court, done, months=("2024-01", "2024-12")):
    async def streams():
        return (await get(tokens, "/v1/stats", **{"from": months[0], "to": months[1], "court": court}))[
            "streams"
        ]

    result = await poll(streams, done, deadline_s=60)
    assert done(result), result
    return result


async def test_ranking_normalises_per_member_with_competition_ranks(tokens, world):
    ranking = await get(tokens, "/v1/rankings", period="2024-03", dimension="service", court=world["court"])
    rows = [(r["rank"], r["branch_id"], r["score"]) for r in ranking["rows"]]
    # a: 2 visits + 1 judicial suggestion = 5 points over 2 members; the rest tie at 0.
    assert rows[0] == (1, world["a"], 2.5)
    assert [r[0] for r in rows[1:]] == [2, 2, 2]
    assert ranking["total_branches"] == 4 and ranking["rulebook_version"]
    assert ranking["data_as_of"] is not None


async def test_breakdown_explains_caps(tokens, world):
    b = await get(tokens, f"/v1/branches/{world['b']}/score", period="2024-03")
    (line,) = b["kinds"]
    assert (line["kind"], line["count"], line["hours"], line["points"]) == (
        "tianping_volunteer_team",
        3,
        72,
        36,
    )
    assert line["label"].startswith("天平志愿服务队")
    assert b["dimensions"]["people"]["points"] == 20  # capped: 20 points a member a month
    assert b["dimensions"]["people"]["per_member"] == 5
    assert b["caps_hit"] == [
        {"month": "2024-03", "member_id": "b-1", "dimension": "people", "points": 36.0, "cap": 20.0}
    ]
    assert b["members"] == 4 and b["registered"]


async def test_stats_count_each_kind_and_a_void_stops_counting(tokens, world):
    streams = await wait_for_stats(tokens, world["court"], lambda s: "liaison" in s, ("2024-03", "2024-03"))
    assert streams["liaison"]["kinds"]["visit"]["count"] == 2
    assert streams["liaison"]["kinds"]["judicial_suggestion"]["count"] == 1
    assert (streams["volunteer"]["records"], streams["volunteer"]["hours"]) == (3, 72)
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(
            f"{URLS['liaison']}/v1/contacts/{world['visit_ids'][0]}:void",
            json={"reason": "entered twice"},
            headers={"Authorization": f"Bearer {tokens['writer']}"},
        )
        assert r.status_code == 202, r.text
    streams = await wait_for_stats(
        tokens, world["court"], lambda s: s["liaison"]["kinds"]["visit"]["count"] == 1, ("2024-03", "2024-03")
    )

    async def top():
        ranking = await get(
            tokens, "/v1/rankings", period="2024-03", dimension="service", court=world["court"]
        )
        return ranking["rows"][0]["score"]

    assert await poll(top, lambda score: score == 2.0) == 2.0  # (1 visit + 1 suggestion x 3) / 2 members


async def test_compliance_colours(tokens, world):
    comp = await get(tokens, "/v1/compliance", period="2024-03", court=world["court"])
    by_branch = {row["branch_id"]: row for row in comp["branches"]}
    lecture = {
        row_id: next(i for i in row["items"] if i["kind"] == "lecture_hall")
        for row_id, row in by_branch.items()
    }
    assert lecture[world["c"]]["colour"] == "green"
    assert lecture[world["a"]]["colour"] == "red"  # March 2024 is over and nobody attended
    assert by_branch[world["d"]]["colour"] == "green" and by_branch[world["d"]]["done_share"] == 1.0
    assert by_branch[world["a"]]["colour"] == "red"


async def test_advanced_branches_need_compliance(tokens, world):
    adv = await get(tokens, "/v1/advanced-branches", year="2024")
    picks = adv["per_court"][world["court"]]
    # quota: ceil(4 branches x 20%) = 1; only d kept every cadence, and it has a positive total.
    assert [p["branch_id"] for p in picks] == [world["d"]]
    assert {p["court"] for p in picks} == {world["court"]}
    assert all("court" in p for p in adv["city"])
    assert picks[0]["compliance"] == 1.0 and "min_compliance" in adv["rule"]


async def test_registry_tree_and_scopes(tokens, world):
    tree = await get(tokens, "/v1/courts")
    node = next(c for c in tree["courts"] if c["court"] == world["court"])
    assert sorted(b["branch_id"] for b in node["branches"]) == sorted(world[k] for k in "abcd")
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"name": "x", "court": world["court"], "members": 3}
        for token, status in ((None, 401), (tokens["writer"], 403), (tokens["reader"], 403)):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = await client.put(f"{SCORING}/v1/branches/{world['a']}", json=body, headers=headers)
            assert r.status_code == status
        r = await client.get(
            f"{SCORING}/v1/branches/{new_id('nobody')}/score?period=2024",
            headers={"Authorization": f"Bearer {tokens['reader']}"},
        )
        assert r.status_code == 404


async def test_ranking_stream_pushes_changed_rows(tokens, world):
    headers = {"Authorization": f"Bearer {tokens['reader']}"}
    params = {"period": "2024-03", "dimension": "team", "court": world["court"]}
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream(
            "GET", f"{SCORING}/v1/rankings/stream", params=params, headers=headers
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = stream.aiter_lines()
            snapshot = await next_event(events)
            assert snapshot[0] == "snapshot" and len(snapshot[1]["rows"]) == 4
            await post_batch(
                client,
                "training",
                tokens["writer"],
                [completion(world["a"], MARCH, "rotation_training", new_id("rt"))],
            )
            kind, body = await next_event(events)
            assert kind == "rows"
            changed = {r["branch_id"]: r for r in body["rows"]}
            assert changed[world["a"]]["scores"]["team"] == 1.5  # 3 points over 2 members


async def next_event(lines) -> tuple[str, dict]:
    kind = None
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind:
            return kind, json.loads(line.removeprefix("data: "))
    raise AssertionError("stream ended")


async def test_an_unregistered_branch_counts_only_when_asked_for_and_is_listed_for_admins(tokens, world):
    fake = new_id("zz-fake")  # nobody registers it; its one member posts 24 hours in March
    day = [deployment(fake, MARCH, hours=24, member_id="zz-1") | {"kind": "community_party_instructor"}]
    async with httpx.AsyncClient(timeout=30) as client:
        await post_batch(client, "volunteer", tokens["writer"], day)

    async def city(**extra) -> dict:  # type: ignore[no-untyped-def]
        return await get(tokens, "/v1/rankings", period="2024-03", dimension="people", limit=1000, **extra)

    shown = await poll(lambda: city(include_unregistered="true"), lambda r: fake in ids(r), deadline_s=60)
    row = next(r for r in shown["rows"] if r["branch_id"] == fake)
    assert row["registered"] is False and row["rank"] == 1  # 20 capped points for its one member
    hidden = await city()
    assert fake not in ids(hidden) and all(r["registered"] for r in hidden["rows"])
    assert hidden["total_branches"] < shown["total_branches"]
    stats = {"from": "2024-03", "to": "2024-03"}
    people = (await get(tokens, "/v1/stats", **stats))["streams"]["volunteer"]["hours"]
    assert (await get(tokens, "/v1/stats", **stats, include_unregistered="true"))["streams"]["volunteer"][
        "hours"
    ] >= people + 24
    comp = await get(tokens, "/v1/compliance", period="2024-03", branch=fake, include_unregistered="true")
    assert [b["branch_id"] for b in comp["branches"]] == [fake]
    assert (await get(tokens, "/v1/compliance", period="2024-03", branch=fake))["branches"] == []

    async with httpx.AsyncClient(timeout=30) as client:
        url = f"{SCORING}/v1/branches?registered=false"
        r = await client.get(url, headers={"Authorization": f"Bearer {tokens['reader']}"})
        assert r.status_code == 403  # a reader may rank, not list what admins must clean up
        r = await client.get(url, headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert r.status_code == 200, r.text
        listed = {b["branch_id"]: b for b in r.json()}
        assert listed[fake]["years"] == ["2024"] and listed[fake]["streams"] == ["volunteer"]
        assert listed[fake]["last_event_time"] is not None and world["a"] not in listed
        metrics = (await client.get(f"{SCORING}/metrics")).text
        gauge = next(
            line for line in metrics.splitlines() if line.startswith("scoring_unregistered_branches ")
        )
        assert float(gauge.split()[1]) >= 1


def ids(ranking: dict) -> set[str]:
    return {r["branch_id"] for r in ranking["rows"]}
