"""Answers over every branch: computed in slices once per data version and shared, kept
least-recently-used under the normalised query, and cheap to recompute at 10,000 branches."""

import asyncio
import gc
import time
from datetime import UTC, datetime

import orjson
import pytest

from services.scoring.api.assessment import JudgedMemo, compliance_steps, compute_advanced, compute_compliance
from services.scoring.api.computed import Computed, Steps
from services.scoring.api.rankings import (
    RankingCache,
    RankingQuery,
    ScoreMemo,
    compute_ranking,
    ranking_steps,
)
from services.scoring.api.read_model import Branch
from services.scoring.api.score_view import ScoreView
from services.scoring.core.standing import BranchPeriod
from services.scoring.rulebooks import load_rulebook

RULEBOOK = load_rulebook()
N = 10_000
TODAY = "2025-01"  # every window of 2024 closed: done or overdue


def city(n: int = N) -> tuple[dict[str, Branch], dict[str, BranchPeriod], dict[str, dict]]:
    """n registered branches in 50 courts, each with 2024 points and a year of training counts."""
    registry, rows, counts = {}, {}, {}
    for i in range(n):
        b = f"b{i:05d}"
        registry[b] = Branch(b, f"支部 {i}", f"c{i % 50}", None, 1 + i % 7)
        points = {"service": i % 13, "trial": i % 5, "people": i % 11, "team": i % 3}
        rows[b] = BranchPeriod(
            b, {d: float(v) for d, v in points.items()}, ("m1",), datetime(2024, 5, 1, tzinfo=UTC)
        )
        counts[b] = {f"2024-{m:02d}": {"lecture_hall": 1, "branch_committee": i % 2} for m in range(1, 13)}
    return registry, rows, counts


@pytest.fixture(scope="module")
def big():
    found = city()
    gc.freeze()  # as the API does once its view is built: long-lived objects stay out of collections
    yield found
    gc.unfreeze()


def test_at_ten_thousand_branches_a_change_scores_and_judges_only_the_changed_branch(big, monkeypatch):
    """What makes a recomputation cheap, counted rather than timed (`make bench` times the answers
    at 10,000 branches): after one branch's records change, only that branch is scored and judged again."""
    from services.scoring.api import assessment, rankings

    calls = {"standing": 0, "judged": 0}

    def counting(name, f):  # type: ignore[no-untyped-def]
        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return f(*args, **kwargs)

        return counted

    monkeypatch.setattr(rankings, "standing", counting("standing", rankings.standing))
    monkeypatch.setattr(assessment.compliance, "tally", counting("judged", assessment.compliance.tally))
    registry, rows, counts = big
    scores, judged = ScoreMemo(), JudgedMemo()
    ranking = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None, memo=scores)
    table = compute_compliance(counts, registry, sorted(registry), "2024", RULEBOOK, TODAY, judged)
    assert ranking.head["total_branches"] == N and len(ranking.rows) == 1000
    assert table.head["total_branches"] == N and sum(table.head["colours"].values()) == N
    assert calls == {"standing": N, "judged": N}
    # One branch's records change: only it is scored and judged again.
    rows = {**rows, "b00007": BranchPeriod("b00007", {"service": 999.0}, ("m1",), None)}
    counts = {
        **counts,
        "b00007": {f"2024-{m:02d}": {"lecture_hall": 1, "branch_committee": 1} for m in range(1, 13)},
    }
    ranking = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None, memo=scores)
    table = compute_compliance(counts, registry, sorted(registry), "2024", RULEBOOK, TODAY, judged)
    advanced = compute_advanced(ranking, counts, registry, "2024", RULEBOOK, TODAY, judged)
    page = table.body(0, 100, None)
    assert calls == {"standing": N + 1, "judged": N + 1}
    assert ranking.rows[0]["branch_id"] == "b00007"
    assert b'"branch_id":"b00000"' in page and page.count(b'"branch_id"') == 100
    assert b'"city":[' in advanced


def test_compliance_judges_as_the_rules_do():
    registry, _, counts = city(3)
    counts["b00001"] = {}  # nothing recorded: every closed window overdue
    table = compute_compliance(counts, registry, sorted(registry), "2024", RULEBOOK, TODAY, JudgedMemo())
    colours = dict(zip(table.ids, (j.tally.colour for j in table.judged), strict=True))
    assert colours["b00001"] == "red"
    one = orjson.loads(table.body(0, 100, "b00001"))
    assert [b["branch_id"] for b in one["branches"]] == ["b00001"]
    items = one["branches"][0]["items"]
    assert {i["status"] for i in items} == {"overdue"} and one["branches"][0]["done_share"] == 0.0
    assert orjson.loads(table.body(0, 100, "nobody"))["branches"] == []
    assert [b["branch_id"] for b in orjson.loads(table.body(1, 1, None))["branches"]] == ["b00001"]


class FakeModel:
    """What RankingCache reads of the read model."""

    def __init__(self, registry, rows):  # type: ignore[no-untyped-def]
        self.registry, self._view, self.changes = registry, ScoreView(1, RULEBOOK), 0
        self._view._periods["2024"] = rows

    async def branches(self):  # type: ignore[no-untyped-def]
        return self.registry

    async def registry_for(self, period):  # type: ignore[no-untyped-def]
        return self.registry  # no registry history here: every period is today's registry

    async def court_branches(self, court, period=None):  # type: ignore[no-untyped-def]
        return [b for b, x in self.registry.items() if x.court == court]

    def view(self) -> ScoreView:
        return self._view

    def version(self, period, view=None):  # type: ignore[no-untyped-def]
        return (1, self.changes, 0)

    def rulebook(self, view):  # type: ignore[no-untyped-def]
        return RULEBOOK


async def test_limit_never_makes_a_new_entry_and_concurrent_readers_share_one_computation():
    registry, rows, _ = city(300)
    computations = []

    class Counting(Computed):
        def _start(self, key, version, snapshot):  # type: ignore[no-untyped-def]
            if key not in self._running:
                computations.append(key)
            return super()._start(key, version, snapshot)

    computed = Counting(max_entries=4, min_age_s=0.0)
    cache, model = RankingCache(computed), FakeModel(registry, rows)
    bodies = await asyncio.gather(
        *(cache.json(model, RankingQuery("2024", limit=limit)) for limit in range(1, 101))  # type: ignore[arg-type]
    )
    assert len(computations) == 1 and len(computed) == 1
    assert [b.count(b'"rank"') for b in bodies] == list(range(1, 101))
    model.changes += 1  # new data: one recomputation for everyone, again
    await asyncio.gather(*(cache.json(model, RankingQuery("2024", limit=7)) for _ in range(20)))  # type: ignore[arg-type]
    assert len(computations) == 2


def const(v: str) -> Steps[str]:
    yield
    return v


async def test_entries_are_least_recently_used_and_a_stale_value_is_served_while_a_slow_one_computes():
    computed: Computed[str] = Computed(max_entries=2, min_age_s=0.0, fresh_wait_s=0.05)
    value = lambda v: lambda: const(v)  # noqa: E731
    assert await computed.get("a", 1, value("a1")) == "a1"
    assert await computed.get("b", 1, value("b1")) == "b1"
    assert await computed.get("a", 1, value("never")) == "a1"  # a is now the most recent
    assert await computed.get("c", 1, value("c1")) == "c1"  # evicts b, not a
    assert await computed.get("a", 1, value("never")) == "a1"
    assert await computed.get("b", 1, value("b-again")) == "b-again"
    released = asyncio.Event()

    def slow() -> Steps[str]:
        while not released.is_set():
            yield
        return "a2"

    def never() -> Steps[str]:
        raise AssertionError("a second computation of a key under way")

    began = time.monotonic()
    assert await computed.get("a", 2, slow) == "a1"  # new data, slow: the last value meanwhile
    assert await computed.get("a", 2, never) == "a1"  # joins the computation under way
    assert time.monotonic() - began < 1
    released.set()
    for _ in range(500):  # the computation finishes in its slices: the next reader has it
        if (got := await computed.get("a", 2, never)) == "a2":
            break
        await asyncio.sleep(0.01)
    assert got == "a2"


async def test_a_fresh_reader_gets_its_version_never_an_older_value_nor_an_older_computation():
    """The reminder schedule reads fresh: a table older than the registry would miss a branch
    registered a moment ago. An older version's computation under way is waited out, not joined."""
    computed: Computed[str] = Computed(min_age_s=0.0, fresh_wait_s=0.01)
    assert await computed.get("t", 1, lambda: const("v1")) == "v1"
    released = asyncio.Event()

    def slow() -> Steps[str]:
        while not released.is_set():
            yield
        return "v2"

    def never() -> Steps[str]:
        raise AssertionError("computed again")

    assert await computed.get("t", 2, slow) == "v1"  # not fresh: the older value meanwhile
    fresh = asyncio.create_task(computed.get("t", 3, lambda: const("v3"), fresh=True))
    await asyncio.sleep(0.05)
    assert not fresh.done()  # behind version 2's computation
    released.set()
    assert await asyncio.wait_for(fresh, 5) == "v3"
    assert await computed.get("t", 3, never, fresh=True) == "v3"  # current: at once


async def test_the_event_loop_keeps_running_while_ten_thousand_branches_are_computed(big):
    registry, rows, counts = big
    gaps: list[float] = []
    done = asyncio.Event()
    gc.collect()  # what earlier tests left behind: a collection is not what this test measures

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    computed: Computed[object] = Computed()
    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    judged, ids = JudgedMemo(), sorted(registry)
    began = time.monotonic()
    table, ranking = await asyncio.gather(
        computed.get(
            "compliance", 1, lambda: compliance_steps(counts, registry, ids, "2024", RULEBOOK, TODAY, judged)
        ),
        computed.get("ranking", 1, lambda: ranking_steps(rows, registry, RULEBOOK, "2024", "total", None)),
    )
    elapsed = time.monotonic() - began
    done.set()
    await ticking
    assert table.head["total_branches"] == ranking.head["total_branches"] == N  # type: ignore[attr-defined]
    # Computed in one go, the loop would stall for about the whole computation; in slices it
    # ticks all along (a bound relative to the run, so a loaded machine's pauses do not decide it).
    assert len(gaps) > 10 and max(gaps) < max(0.1, elapsed / 4), (max(gaps), elapsed)


def test_a_ranking_after_one_change_encodes_only_the_rows_that_changed_or_moved():
    registry, rows, _ = city(200)
    memo = ScoreMemo()
    before = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None, memo=memo)
    last = before.rows[-1]["branch_id"]
    again = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None, memo=memo)
    assert all(a is b for a, b in zip(again.rows, before.rows, strict=True))  # nothing changed: all reused
    grown = {d: v + 1000.0 for d, v in rows[last].points.items()}  # from last place to first
    rows = {**rows, last: BranchPeriod(last, grown, ("m1",), rows[last].last_event_time)}
    after = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None, memo=memo)
    assert after.rows[0]["branch_id"] == last and after.rows[0]["rank"] == 1
    assert not any(r is old for r in after.rows for old in before.rows if old["rank"] != r["rank"])
    fresh = compute_ranking(rows, registry, RULEBOOK, "2024", "total", None)
    assert fresh.encoded == after.encoded  # reused rows are what a fresh computation makes
    assert [orjson.loads(e) for e in after.encoded] == after.rows
