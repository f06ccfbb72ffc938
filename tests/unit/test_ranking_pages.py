"""Rankings past 1,000 rows: pages cut by an opaque cursor from the ranking version the first page
came from, answered while that version is kept (or wherever the current ranking is that version),
else refused as gone; versions are content digests, the same in every API process."""

import orjson
import pytest

from services.scoring.api.computed import Computed
from services.scoring.api.rankings import (
    MAX_LIMIT,
    RankingCache,
    RankingGone,
    RankingQuery,
    compute_ranking,
    decode_cursor,
)
from services.scoring.core.ranking import rank
from services.scoring.core.standing import BranchPeriod
from shared.problems import Problem
from tests.unit.test_ranking_cache import RULEBOOK, FakeModel, city

N = 2_500


def walk(ranking, limit: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [orjson.loads(row) for offset in range(0, N, limit) for row in ranking.page(offset, limit)]


def test_every_row_past_the_first_thousand_has_its_competition_rank():
    registry, rows, _ = city(N)
    ranking = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None)
    assert len(ranking.rows) == MAX_LIMIT and len(ranking.order) == N
    got = walk(ranking, 700)
    want = rank(ranking.values)
    assert [(r["rank"], r["branch_id"], r["score"]) for r in got] == [
        (w.rank, w.branch_id, w.value) for w in want
    ]
    assert got[:MAX_LIMIT] == ranking.rows  # the rows built at once and those built per page agree
    last = want[-1]
    assert ranking.place(last.branch_id) == last.rank and ranking.place("nobody") is None


def test_a_version_is_the_content_so_two_processes_computing_one_ranking_agree():
    registry, rows, _ = city(300)
    one = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None)
    other = compute_ranking(dict(reversed(rows.items())), dict(registry), RULEBOOK, "2024", "total", None)
    assert one.version == other.version
    moved = {**rows, "b00007": BranchPeriod("b00007", {"service": 999.0}, ("m1",))}
    assert compute_ranking(moved, registry, RULEBOOK, "2024", "total", None).version != one.version
    assert compute_ranking(rows, registry, RULEBOOK, "2024", "service", None).version != one.version


async def test_a_cursor_pages_the_version_it_started_from_until_that_version_is_gone():
    registry, rows, _ = city(N)
    model = FakeModel(registry, rows)
    cache = RankingCache(Computed(min_age_s=0.0, fresh_wait_s=30.0), versions_kept=2)
    first = orjson.loads(await cache.json(model, RankingQuery("2024", limit=1000)))  # type: ignore[arg-type]
    assert first["offset"] == 0 and first["next"].startswith(
        "/v1/rankings?period=2024&dimension=total&limit=1000"
    )
    cursor = first["next"].split("cursor=")[1]
    assert decode_cursor(cursor) == (first["version"], 1000)

    # The data move: b00007 jumps to the top. The cursor still pages the ranking it came from.
    model._view._periods["2024"] = {**rows, "b00007": BranchPeriod("b00007", {"service": 9999.0}, ("m1",))}
    model.changes += 1
    fresh = orjson.loads(await cache.json(model, RankingQuery("2024", limit=1000)))  # type: ignore[arg-type]
    assert fresh["version"] != first["version"] and fresh["rows"][0]["branch_id"] == "b00007"
    second = orjson.loads(await cache.json(model, RankingQuery("2024", limit=1000, cursor=cursor)))  # type: ignore[arg-type]
    assert second["version"] == first["version"] and second["offset"] == 1000
    ids = [r["branch_id"] for r in first["rows"] + second["rows"]]
    assert len(set(ids)) == 2000  # no row twice, none skipped, though b00007 moved meanwhile
    third = orjson.loads(
        await cache.json(model, RankingQuery("2024", limit=1000, cursor=second["next"].split("cursor=")[1]))
    )  # type: ignore[arg-type]
    assert len(third["rows"]) == N - 2000 and third["next"] is None
    assert len(set(ids) | {r["branch_id"] for r in third["rows"]}) == N

    # Another query's cursor is refused; two more paged rankings push the old version out.
    with pytest.raises(Problem) as wrong:
        await cache.json(model, RankingQuery("2024", "service", limit=1000, cursor=cursor))  # type: ignore[arg-type]
    assert wrong.value.status == 422
    for dimension in ("service", "trial"):
        await cache.json(model, RankingQuery("2024", dimension, limit=10))  # type: ignore[arg-type]
    with pytest.raises(RankingGone):
        await cache.json(model, RankingQuery("2024", limit=1000, cursor=cursor))  # type: ignore[arg-type]
    for bad in ("garbage", "W10", cursor[:-3]):
        with pytest.raises(Problem):
            await cache.json(model, RankingQuery("2024", limit=1000, cursor=bad))  # type: ignore[arg-type]


async def test_a_process_that_never_kept_a_version_answers_it_only_if_its_current_ranking_is_it():
    registry, rows, _ = city(N)
    here, there = (RankingCache(Computed(min_age_s=0.0, fresh_wait_s=30.0)) for _ in range(2))
    model = FakeModel(registry, rows)
    first = orjson.loads(await here.json(model, RankingQuery("2024", limit=500)))  # type: ignore[arg-type]
    cursor = first["next"].split("cursor=")[1]
    q = RankingQuery("2024", limit=500, cursor=cursor)  # type: ignore[arg-type]
    assert await there.json(model, q) == await here.json(model, q)  # the same data: the same page
    model._view._periods["2024"] = {**rows, "b00007": BranchPeriod("b00007", {"service": 9999.0}, ("m1",))}
    model.changes += 1
    assert orjson.loads(await here.json(model, q))["version"] == first["version"]  # kept here
    fresh = RankingCache(Computed(min_age_s=0.0, fresh_wait_s=30.0))  # never saw that version
    with pytest.raises(RankingGone):
        await fresh.json(model, q)


async def test_versions_kept_are_bounded_in_rows_too():
    registry, rows, _ = city(N)
    model = FakeModel(registry, rows)
    cache = RankingCache(Computed(min_age_s=0.0, fresh_wait_s=30.0), versions_kept=8, rows_kept=2 * N)
    versions, cursors = [], []
    for dimension in ("total", "service", "trial"):
        page = orjson.loads(await cache.json(model, RankingQuery("2024", dimension, limit=10)))  # type: ignore[arg-type]
        versions.append(page["version"])
        cursors.append(page["next"].split("cursor=")[1])
    assert list(cache._versions) == versions[1:]  # three of N rows each is past 2 * N: the oldest goes
    # Its ranking is still the current one: answered all the same, as another process would answer it.
    q = RankingQuery("2024", "total", limit=10, cursor=cursors[0])  # type: ignore[arg-type]
    assert orjson.loads(await cache.json(model, q))["offset"] == 10
    assert list(cache._versions) == [versions[2], versions[0]]
