"""A branch's standing in a period, defined once: the streams merged, the members rule, the
per-member scores, and the one compliance share; every answer and the fault suite's oracle use it."""

from datetime import UTC, datetime

import orjson

from services.scoring.api.assessment import JudgedMemo, compute_compliance
from services.scoring.api.branches import _breakdown
from services.scoring.api.rankings import compute_ranking
from services.scoring.api.read_model import Branch
from services.scoring.core import compliance
from services.scoring.core.ranking import rank, rank_at, rank_of, sort_key
from services.scoring.core.scores import PeriodScore
from services.scoring.core.standing import BranchPeriod, members, merge, standing
from services.scoring.core.summary import PeriodRow, PeriodSummary
from services.scoring.rulebooks import load_rulebook
from tests.fault import expected

RULEBOOK = load_rulebook()
T1, T2 = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)


def test_streams_merge_into_one_row_counting_a_member_once():
    row = merge(
        "b1", [({"service": 4.0}, ["m1", "m2"], T1), ({"service": 2.0, "team": 1.0}, ["m2", "m3"], T2)]
    )
    assert row == BranchPeriod(
        "b1", {"service": 6.0, "trial": 0.0, "people": 0.0, "team": 1.0}, ("m1", "m2", "m3"), T2
    )
    assert merge("b1", []) is None


def test_members_are_the_registered_number_else_those_seen_and_at_least_one():
    assert members(12, 3) == 12  # registered: the registry's number, whatever the records show
    assert members(None, 3) == 3  # the old compliance copy said 1 here, the rankings 3
    assert members(None, 0) == 1  # the old breakdown showed 0 members here


def test_a_standing_is_per_member_and_says_whether_the_branch_is_registered():
    row = BranchPeriod("b1", {"service": 8.0, "trial": 0.0, "people": 0.0, "team": 0.0}, ("m1", "m2"))
    mine = standing(row, None, RULEBOOK)
    assert (mine.registered, mine.members, mine.scores["service"]) == (False, 2, 4.0)
    assert mine.scores["total"] == round(RULEBOOK.weights["service"] * 4.0, 4)
    assert standing(row, 4, RULEBOOK).scores["service"] == 2.0


def test_an_unregistered_branchs_pledge_is_needed_from_every_member_seen():
    """Compliance used 1 member for an unregistered branch while its ranking used those seen: one
    pledge made it green. Now both use the standing's members."""
    counts = {"b1": {"2024-01": {"integrity_pledge": 1}}}
    year = {"b1": BranchPeriod("b1", {}, ("m1", "m2", "m3"))}
    table = compute_compliance(counts, {}, ["b1"], "2024", RULEBOOK, "2025-01", JudgedMemo(), year)
    (pledge,) = [
        i
        for i in orjson.loads(table.body(0, 1, None))["branches"][0]["items"]
        if i["kind"] == "integrity_pledge"
    ]
    assert (pledge["needed"], pledge["done"], pledge["status"]) == (3, 1, "overdue")


def test_the_breakdown_and_the_ranking_show_one_standing():
    score = PeriodSummary({"service": 6.0, "trial": 0.0, "people": 0.0, "team": 0.0}, {}, [], [])
    docs = [PeriodRow("b1", "liaison", "2024", score, T1)]
    out = _breakdown("b1", None, "2024", docs, RULEBOOK)
    assert out.members == 1 and out.dimensions["service"].per_member == 6.0  # none seen: 1, never 0
    ranking = compute_ranking(
        {"b1": merge("b1", [(score.points, score.members, T1)])}, {}, RULEBOOK, "2024", "total", None, True
    )
    assert ranking.rows[0]["members"] == out.members and ranking.rows[0]["scores"]["total"] == out.total
    registered = Branch("b1", "支部", "c1", None, 3)
    assert _breakdown("b1", registered, "2024", docs, RULEBOOK).dimensions["service"].per_member == 2.0


def test_the_fault_suites_oracle_ranks_as_the_api_does():
    def period_score(points: dict[str, float], who: set[str]) -> PeriodScore:
        s = PeriodScore()
        s.points.update(points)
        s.members = who
        return s

    want = expected.Expected(
        {
            ("b1", "liaison", "2024"): period_score({"service": 9.0}, {"m1"}),
            ("b1", "training", "2024"): period_score({"team": 3.0}, {"m2"}),
            ("b2", "volunteer", "2024"): period_score({"people": 12.0}, {"m3"}),
            ("b3", "liaison", "2024"): period_score({"service": 1.0}, {"m4"}),
        }
    )
    registered = {"b1": 3, "b2": 4, "b3": 1}
    oracle = expected.ranking(want, registered, "2024", RULEBOOK)
    rows = {}
    for (b, _, _), s in want.scores.items():
        rows.setdefault(b, []).append((s.points, s.members, None))
    merged = {b: merge(b, parts) for b, parts in rows.items()}
    registry = {b: Branch(b, b, "c", None, n) for b, n in registered.items()}
    api = compute_ranking(merged, registry, RULEBOOK, "2024", "total", None)
    assert {r["branch_id"]: {"rank": r["rank"], "scores": r["scores"]} for r in api.rows} == oracle


def test_rank_by_bisection_is_the_competition_rank():
    values = {f"b{i}": float(i % 7) / 3 for i in range(50)}
    ranked = rank(values)
    keys = sorted(sort_key(b, v)[0] for b, v in values.items())
    assert [rank_at(keys, i) for i in range(len(keys))] == [r.rank for r in ranked]
    assert all(rank_of(keys, r.value) == r.rank for r in ranked)


def test_one_compliance_share_for_the_advanced_rule_and_the_board():
    # March: January and February kept, March still open: kept 100%, done a third.
    windows = compliance.plan("2024-Q1", {"lecture_hall": "month"}, "2024-03")
    tally = compliance.tally(windows, (1, 1, 0), members=5)
    assert tally == compliance.Tally("yellow", 2 / 3, 1.0)
    items = compliance.check(
        {"2024-01": {"lecture_hall": 1}, "2024-02": {"lecture_hall": 1}},
        "2024-Q1",
        {"lecture_hall": "month"},
        5,
        "2024-03",
    )
    assert compliance.overall(items) == tally
