"""Scores, weights and rulebook version come from one generation: when a rescore switches to a
generation scored under other weights, the API shows the new totals and the new version together,
without a restart (an API process of the test's own, so the shared system's generation stays)."""

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from services.scoring.generations import POINTER, Generation, MongoGenerations
from services.scoring.rulebooks import load_rulebook, read_rulebook_text, rulebook_toml
from tests.conftest import new_id, poll
from tests.integration.own_api import own_api, publish, summary

AT = datetime(2024, 5, 6, 9, tzinfo=UTC)
POINTS = {"service": 8.0, "trial": 2.0, "people": 0.0, "team": 4.0}


@pytest.fixture(scope="module")
async def api():
    async with own_api() as api:
        yield api


async def test_an_api_without_a_pointer_makes_generation_one_under_the_rulebook_file(api):
    doc = await api.db["scoring_meta"].find_one({"_id": POINTER})
    assert doc["number"] == 1 and doc["rulebook_toml"] == read_rulebook_text()
    # A second process racing to make it finds it there and keeps it.
    other = replace(load_rulebook(), version="not-this-one")
    assert await MongoGenerations(api.db).ensure_first(rulebook_toml(other)) == Generation(
        1, read_rulebook_text()
    )


async def test_a_switch_to_other_weights_changes_totals_and_version_together(api, tokens):
    court, branch = new_id("court"), new_id("b")
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        body = {"name": "支部", "court": court, "members": 2}
        r = await client.put(
            f"/v1/branches/{branch}", json=body, headers={"Authorization": f"Bearer {tokens['admin']}"}
        )
        assert r.status_code == 200, r.text
        old = load_rulebook()
        new = replace(
            old, version="test-weights", weights={"service": 0.1, "trial": 0.1, "people": 0.1, "team": 0.7}
        )
        expect = {  # per member (2 members), weighed
            old.version: round(sum(old.weights[d] * POINTS[d] / 2 for d in POINTS), 4),
            new.version: round(sum(new.weights[d] * POINTS[d] / 2 for d in POINTS), 4),
        }
        assert expect[old.version] != expect[new.version]
        for generation in (1, 2):  # generation 2 is scored (same points) before it goes live
            await publish(api.database, generation, [summary(branch, "liaison", 1, POINTS, AT)])

        async def seen() -> list[tuple]:
            ranking = (
                await client.get("/v1/rankings", params={"period": "2024", "court": court}, headers=reader)
            ).json()
            breakdown = (
                await client.get(f"/v1/branches/{branch}/score", params={"period": "2024"}, headers=reader)
            ).json()
            return [
                (
                    ranking["rulebook_version"],
                    ranking["rows"][0]["scores"]["total"] if ranking["rows"] else None,
                ),
                (breakdown["rulebook_version"], breakdown["total"]),
                (breakdown["rulebook_version"], breakdown["dimensions"]["team"]["weight"]),
            ]

        first = await poll(seen, lambda s: s[0] == (old.version, expect[old.version]))
        assert first[:2] == [(old.version, expect[old.version])] * 2 and first[2][1] == old.weights["team"]

        await MongoGenerations(api.db).switch(Generation(2), rulebook_toml(new))
        observed: list[list[tuple]] = []

        async def watched() -> list[tuple]:
            observed.append(await seen())
            return observed[-1]

        last = await poll(watched, lambda s: s[0][0] == new.version and s[1][0] == new.version, deadline_s=60)
        assert last[:2] == [(new.version, expect[new.version])] * 2 and last[2][1] == new.weights["team"]
        # At no moment did a version come with the other generation's total or weight.
        weight = {old.version: old.weights["team"], new.version: new.weights["team"]}
        for ranking, breakdown, team in observed:
            assert ranking[1] == expect[ranking[0]] and breakdown[1] == expect[breakdown[0]], observed
            assert team[1] == weight[team[0]], observed
        advanced = (await client.get("/v1/advanced-branches", params={"year": "2024"}, headers=reader)).json()
        compliance = (
            await client.get("/v1/compliance", params={"period": "2024", "court": court}, headers=reader)
        ).json()
        assert advanced["rulebook_version"] == compliance["rulebook_version"] == new.version
