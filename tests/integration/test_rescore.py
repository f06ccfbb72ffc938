"""`make rescore` after a rulebook change gives the new scores, the same as live processing under
that rulebook, and readers switch to them."""

import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from services.scoring.generations import MongoGenerations
from services.scoring.rulebooks import DEFAULT_RULEBOOK
from tests.conftest import MONGO_URL, new_id, poll
from tests.support import contact, feed_view, post_batch, recompute, scored, start_group_at_end, workers

CST = timezone(timedelta(hours=8))


def changed_rulebook(tmp: Path) -> Path:
    text = DEFAULT_RULEBOOK.read_text().replace('version = "2022.1"', 'version = "test-visits-5"')
    before = '[kinds.visit]\ndimension = "service"\npoints = 1'
    assert before in text
    path = tmp / "rulebook.toml"
    path.write_text(text.replace(before, '[kinds.visit]\ndimension = "service"\npoints = 5'))
    assert tomllib.loads(path.read_text())["kinds"]["visit"]["points"] == 5
    return path


async def test_rescore_under_new_rulebook_equals_live_scoring_under_it(tokens, tmp_path):
    rulebook = changed_rulebook(tmp_path)
    live_db, rescored_db = new_id("live").replace("-", "_"), new_id("rescored").replace("-", "_")
    branches = [new_id("b") for _ in range(3)]
    at = datetime(2024, 6, 3, 10, tzinfo=CST)
    group = new_id("live")
    await start_group_at_end(group)  # live scoring under the new rulebook, of what follows
    async with httpx.AsyncClient(timeout=30) as client:
        visits = [contact(b, at + timedelta(hours=i), member_id=f"m{i}") for b in branches for i in range(4)]
        assert len(await post_batch(client, "liaison", tokens["writer"], visits)) == 12
    mongo = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        with workers(group, live_db, [8031], SCORING_WORKER_RULEBOOK=str(rulebook)):

            async def done():
                return await scored(live_db, branches)

            live = await poll(
                done,
                lambda d: all(
                    d.get((b, "liaison", "2024"), {}).get("points", {}).get("service") == 20 for b in branches
                ),
                deadline_s=120,
            )
        await recompute(rescored_db, rulebook)
        rescored = await scored(rescored_db, branches, generation=2)
        assert {k: v for k, v in rescored.items()} == {k: v for k, v in live.items()}
        assert rescored[(branches[0], "liaison", "2024-06")]["points"]["service"] == 20  # 4 visits x 5

        db = mongo[rescored_db]
        assert (await MongoGenerations(db).active()).number == 2  # readers follow the switch
        rows = (await feed_view(rescored_db, 2)).period("2024-Q2")  # what an API of it would read
        assert all(rows[b].points["service"] == 20 for b in branches)
    finally:
        await mongo.drop_database(live_db)
        await mongo.drop_database(rescored_db)
        await mongo.close()
