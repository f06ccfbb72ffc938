"""The yearly examination's pure rules: ballot supersession, grades with their hard rules, and the
excellent quota rounded up with ties at the boundary."""

import orjson
import pytest

from services.scoring.core.examination import AppraisalLine, Examination, examine
from services.scoring.core.excellent import Member, quota, select
from services.scoring.core.facts import APPRAISAL, EVALUATION, Fact
from services.scoring.core.grade_rules import ExcellentRule, GradeRule, parse_grade_rules
from services.scoring.core.grades import grade, grade_branch
from services.scoring.rulebooks import load_rulebook, parse_rulebook_text, rulebook_toml

RULE = GradeRule()


def ballot(eid: str, member: str, voter: str, level: str, at: int) -> Fact:
    detail = orjson.dumps({"at": at, "level": level, "voter": voter}, option=orjson.OPT_SORT_KEYS).decode()
    return Fact(eid, EVALUATION, member, "2024-01", detail=detail)


def appraisal(eid: str, member: str, source: str, quality: float, performance: str, at: int) -> Fact:
    said = {"at": at, "performance": performance, "source": source, "trial_quality": quality}
    return Fact(eid, APPRAISAL, member, "2024-01", detail=orjson.dumps(said).decode())


def pledge(member: str) -> Fact:
    return Fact(f"p-{member}", "integrity_pledge", member, "2024-01", session_id="pledge-2024")


def test_a_later_ballot_of_the_same_voter_supersedes_the_earlier_in_any_order():
    facts = [
        ballot("b-1", "m-1", "v-a", "poor", at=100),
        ballot("b-2", "m-1", "v-a", "good", at=200),  # the same voter changes their mind
        ballot("b-3", "m-1", "v-b", "average", at=150),
        ballot("b-4", "m-2", "v-a", "fairly_good", at=100),  # another member: its own ballot
    ]
    for order in (facts, facts[::-1]):
        exams = examine(order)
        assert exams["m-1"].ballots == {"good": 1, "fairly_good": 0, "average": 1, "poor": 0}
        assert exams["m-2"].ballots == {"good": 0, "fairly_good": 1, "average": 0, "poor": 0}


def test_ballots_recorded_at_the_same_time_are_decided_by_id():
    a, b = ballot("b-1", "m-1", "v-a", "poor", at=5), ballot("b-2", "m-1", "v-a", "good", at=5)
    assert examine([b, a])["m-1"].ballots["good"] == 1 == examine([a, b])["m-1"].turnout


def test_the_latest_appraisal_per_source_counts_and_training_done_is_kept():
    facts = [
        appraisal("a-1", "m-1", "hr", 70, "basically_competent", at=1),
        appraisal("a-2", "m-1", "hr", 90, "competent", at=2),
        appraisal("a-3", "m-1", "trial", 80, "excellent", at=1),
        pledge("m-1"),
    ]
    e = examine(facts)["m-1"]
    assert [(a.source, a.trial_quality, a.performance) for a in e.appraisals] == [
        ("hr", 90.0, "competent"),
        ("trial", 80.0, "excellent"),
    ]
    assert e.done == ["integrity_pledge"] and e.turnout == 0


def exam(good=0, fairly_good=0, average=0, poor=0, appraisals=(), pledged=True) -> Examination:
    ballots = {"good": good, "fairly_good": fairly_good, "average": average, "poor": poor}
    return Examination(ballots, list(appraisals), ["integrity_pledge"] if pledged else [])


def hr(quality: float, performance: str) -> AppraisalLine:
    return AppraisalLine("hr", quality, performance, "a-1")


def test_a_strong_member_is_good_and_the_reasons_show_the_arithmetic():
    g = grade(exam(good=9, fairly_good=1, appraisals=[hr(90, "competent")]), 80, 80, 10, RULE)
    # ballots (9×100 + 80)/10 = 98; appraisal (90 + 85)/2 = 87.5; points 100: 0.5×98 + 0.3×87.5 + 0.2×100
    assert g.score == 95.25 and g.grade == "good"
    assert any("98.0" in r for r in g.reasons) and any("87.5" in r for r in g.reasons)


@pytest.mark.parametrize(
    ("change", "capped"),
    [
        ({"good": 4, "poor": 6}, "poor"),  # a majority of 较差
        ({"appraisals": [hr(95, "incompetent")]}, "poor"),
        ({"appraisals": [hr(95, "basically_competent")]}, "fairly_good"),
        ({"pledged": False}, "average"),
        ({"good": 4}, "fairly_good"),  # 4 ballots of 10 others: below half
    ],
)
def test_a_hard_rule_caps_the_grade_and_says_why(change, capped):
    base = {"good": 10, "appraisals": [hr(95, "excellent")]} | change
    g = grade(exam(**base), 100, 80, 10, RULE)
    assert g.grade == capped
    assert any(r.startswith("capped at") for r in g.reasons), g.reasons


def test_a_majority_of_poor_needs_more_than_half():
    assert grade(exam(good=5, poor=5), 80, 80, 10, RULE).grade != "poor"
    assert grade(exam(good=4, poor=6), 80, 80, 10, RULE).grade == "poor"


def test_without_an_appraisal_ballots_and_points_are_weighed_among_themselves():
    g = grade(exam(good=10), 40, 80, 10, RULE)  # points 50 of 100
    assert g.score == round((0.5 * 100 + 0.2 * 50) / 0.7, 2)


def test_a_branch_is_graded_against_its_own_median():
    exams = {m: exam(good=2) for m in ("m-1", "m-2", "m-3")}
    graded = grade_branch(["m-1", "m-2", "m-3"], exams, {"m-1": 10, "m-2": 20, "m-3": 30}, RULE)
    assert graded["m-1"].score < graded["m-2"].score == graded["m-3"].score
    assert all("median 20" in next(r for r in g.reasons if "median" in r) for g in graded.values())


def test_a_member_with_nothing_is_graded_with_every_reason():
    g = grade(None, 0, 0, 4, RULE)
    assert g.grade in ("fairly_good", "average") and len(g.reasons) >= 3


def test_quotas_round_up():
    assert quota(20, 0.15)[0] == 3  # 3.0000000000000004 in floating point
    assert quota(21, 0.15)[0] == 4
    assert quota(7, 0.2)[0] == 2
    assert quota(0, 0.15)[0] == 0
    assert "ceil(21 × 15%)" in quota(21, 0.15)[1]


def test_excellent_places_name_every_tie_at_the_boundary_and_advanced_branches_get_more():
    members = [Member(f"m-{i}", "b-x", "good", 100 - i) for i in range(10)]  # 10 others: quota 2
    members += [Member("m-tie", "b-x", "good", 99)]  # ties m-1 at the boundary (11 others: quota 2)
    members += [Member(f"a-{i}", "b-adv", "good" if i else "fairly_good", 50) for i in range(10)]
    pools = {p.name: p for p in select(members, {"b-adv"}, ExcellentRule(0.15, 0.05))}
    other, advanced = pools["other"], pools["advanced"]
    assert other.quota == 2 and [p.member_id for p in other.places] == ["m-0", "m-1", "m-tie"]
    assert [p.rank for p in other.places] == [1, 2, 2]
    assert advanced.quota == 2 and advanced.candidates == 9
    assert len(advanced.places) == 9  # all tied at 50: every one named
    assert all(p.member_id.startswith("a-") and p.member_id != "a-0" for p in advanced.places)


def test_only_members_graded_good_fill_a_quota():
    members = [Member("m-1", "b", "fairly_good", 100), Member("m-2", "b", "good", 1)]
    (adv, other) = select(members, set(), ExcellentRule())
    assert adv.places == [] and [p.member_id for p in other.places] == ["m-2"]


def test_the_rulebook_sections_parse_check_and_round_trip():
    rulebook = load_rulebook()
    assert (
        rulebook.grades == GradeRule() and rulebook.excellent == ExcellentRule()
    )  # the defaults are the file's
    assert rulebook.grades.pledge_kind in rulebook.cadence
    assert parse_rulebook_text(rulebook_toml(rulebook)).grades == rulebook.grades
    kinds = set(rulebook.kinds)
    assert parse_grade_rules({}, kinds)[:2] == (GradeRule(), ExcellentRule())  # an older rulebook
    _, _, problems = parse_grade_rules(
        {"grades": {"good": 50, "fairly_good": 60, "pledge_kind": "nope", "incompetent_cap": "bad"}}, kinds
    )
    assert len(problems) == 3, problems
