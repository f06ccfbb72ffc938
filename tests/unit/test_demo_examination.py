"""The demo's yearly examination (tools/demo/examination.py): valid records, and the grade spread
the issue asks /v1/grades?year=2022 to show, computed by the very rules the API applies."""

from collections import Counter, defaultdict
from datetime import datetime

import orjson
import pytest

from services.scoring.core.examination import examine
from services.scoring.core.facts import APPRAISAL, EVALUATION, Fact
from services.scoring.core.grades import grade_branch
from services.scoring.core.member_points import weighted
from services.scoring.core.periods import month_of
from services.scoring.core.scores import member_scores
from services.scoring.rulebooks import load_rulebook
from services.training.examination import EvaluationBallot
from shared.contracts import MemberAppraised
from tools.demo.dataset import TIME_FIELDS, Dataset, generate


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return generate()


def test_every_ballot_and_appraisal_is_valid_and_ids_are_unique(demo):
    for resource, model in (("evaluations", EvaluationBallot), ("appraisals", MemberAppraised)):
        records = demo.exam[resource]
        assert len({r["id"] for r in records}) == len(records) > 0
        for r in records:
            model.model_validate({k: v for k, v in r.items() if k != "id"})
    members = {m.member_id for m in demo.city.members}
    assert {m for m, _ in demo.registry} == members and len(demo.registry) == 800
    assert {r["member_id"] for r in demo.exam["appraisals"]} == members
    assert all(r["voter_id"] != r["member_id"] for r in demo.exam["evaluations"])


def year_points(demo: Dataset) -> dict[str, float]:
    """Each member's weighted 2022 points, as the worker scores them per ledger and the API adds up."""
    rulebook = load_rulebook()
    ledgers: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for stream, records in demo.records.items():
        for r in records:
            month = month_of(datetime.fromisoformat(r[TIME_FIELDS[stream]]))
            fact = Fact(
                r["id"], r["kind"], r["member_id"], month, r.get("hours", 0.0), r.get("session_id", "")
            )
            ledgers[(r["branch_id"], stream)].append(fact)
    raw: dict[str, Counter] = defaultdict(Counter)
    for facts in ledgers.values():
        for member, periods in member_scores(facts, rulebook).items():
            if "2022" in periods:
                raw[member].update(periods["2022"].points)
    return {m: weighted(p, rulebook.weights)["total"] for m, p in raw.items()}


def exam_facts(demo: Dataset) -> dict[str, list[Fact]]:
    """The ballots, appraisals and pledges of each branch as facts of its training ledger."""
    facts: dict[str, list[Fact]] = defaultdict(list)
    for n, r in enumerate(demo.exam["evaluations"]):
        detail = orjson.dumps({"at": n, "level": r["level"], "voter": r["voter_id"]}).decode()
        facts[r["branch_id"]].append(Fact(r["id"], EVALUATION, r["member_id"], "2022-01", detail=detail))
    for n, r in enumerate(demo.exam["appraisals"]):
        said = {k: r[k] for k in ("source", "trial_quality", "performance")} | {"at": n}
        facts[r["branch_id"]].append(
            Fact(r["id"], APPRAISAL, r["member_id"], "2022-01", detail=orjson.dumps(said).decode())
        )
    for r in demo.records["training"]:
        if r["kind"] == "integrity_pledge":
            facts[r["branch_id"]].append(Fact(r["id"], r["kind"], r["member_id"], "2022-01"))
    return facts


def test_the_demo_grades_spread_as_the_issue_asks(demo):
    rule, points, facts = load_rulebook().grades, year_points(demo), exam_facts(demo)
    grades: Counter[str] = Counter()
    for branch, members in demo.city.by_branch.items():
        graded = grade_branch([m.member_id for m in members], examine(facts[branch]), points, rule)
        grades.update(g.grade for g in graded.values())
    share = {g: n / sum(grades.values()) for g, n in grades.items()}
    assert 0.55 <= share["good"] <= 0.70, grades
    assert 0.20 <= share["fairly_good"] <= 0.35, grades
    assert 0.03 <= share["average"] <= 0.10, grades
    assert share.get("poor", 0) <= 0.02, grades
