"""A finalised year stays as it was frozen when a rescore switches the API to a generation with
other scores, while the live answer beside it moves (#13, closing the year: 考核结果公示). The
frozen content travels in the finalisation event, so no generation can change it."""

from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer

from services.scoring.core.summary import KindTotals, MemberPeriod, MemberSummary, member_summary_id
from services.scoring.generations import Generation, MongoGenerations
from services.scoring.rulebooks import load_rulebook, rulebook_toml
from services.scoring.score_feed import encode_member, feed_key, feed_topic
from tests.conftest import BOOTSTRAP, new_id, poll
from tests.integration.own_api import own_api, publish, summary

AT = datetime(2024, 5, 6, 9, tzinfo=UTC)
POINTS = {1: {"service": 8.0, "trial": 2.0, "people": 0.0, "team": 4.0}, 2: {"service": 1.0}}


async def publish_member(database: str, generation: int, branch: str, member: str) -> None:
    """The member's 2024 scores in the branch's liaison ledger, as a worker of `generation` sends them."""
    points = {d: POINTS[generation].get(d, 0.0) for d in ("service", "trial", "people", "team")}
    period = MemberPeriod(points, {"visit": KindTotals(1, 0.0, points["service"])})
    ledger = f"{branch}|liaison|2024"
    record = MemberSummary(
        member_summary_id(member, ledger), member, branch, "liaison", "2024", 1, "test", AT,
        {"2024-05": period, "2024-Q2": period, "2024": period},
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP)
    await producer.start()
    try:
        key = feed_key(generation, record.id).encode()
        await producer.send_and_wait(feed_topic(database), encode_member(generation, record), key=key)
    finally:
        await producer.stop()


async def test_a_finalised_version_does_not_move_when_a_rescore_switches_generations(tokens):
    court, branch, member = new_id("court"), new_id("b"), new_id("m")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with own_api() as api, httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        body = {"name": "支部", "court": court, "members": 1}
        assert (await client.put(f"/v1/branches/{branch}", json=body, headers=admin)).status_code == 200
        for generation in (1, 2):  # generation 2 is scored (other points) before a rescore switches to it
            await publish(api.database, generation, [summary(branch, "liaison", 1, POINTS[generation], AT)])
            await publish_member(api.database, generation, branch, member)

        async def graded() -> dict:
            r = await client.get("/v1/grades", params={"year": "2024", "court": court}, headers=admin)
            return r.json() if r.status_code == 200 else {}

        def score_of(answer: dict) -> float | None:
            return next((m["points"] for m in answer.get("members", []) if m["member_id"] == member), None)

        before = score_of(await poll(graded, lambda a: score_of(a) is not None))
        made = await client.post("/v1/finalisations", json={"year": "2024", "court": court}, headers=admin)
        assert made.status_code == 201, made.text
        frozen = made.json()
        assert [g["member_id"] for g in frozen["content"]["grades"]] == [member]

        await MongoGenerations(api.db).switch(Generation(2), rulebook_toml(load_rulebook()))
        after = score_of(await poll(graded, lambda a: score_of(a) not in (None, before), deadline_s=60))
        assert after != before  # the live answer moved with the generation

        version = f"/v1/finalisations/{court}/2024/{frozen['version']}"
        kept = (await client.get(version, headers=admin)).json()
        assert kept["content"] == frozen["content"] and kept["time"] == frozen["time"]
        listed = (
            await client.get("/v1/finalisations", params={"year": "2024", "court": court}, headers=admin)
        ).json()
        assert [v["content"] for v in listed["versions"]] == [frozen["content"]]
        assert listed["live"]["changes_since_latest"]["grades"]["changed"]  # and says it moved
