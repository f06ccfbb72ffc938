"""The yearly political-quality grade (政治素质考察): ballots, appraisals and year points make a score,
the score a grade (好/较好/一般/较差), and the hard rules cap it; the reasons say what decided it."""

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from services.scoring.core.examination import Examination
from services.scoring.core.grade_rules import GRADE_LABELS, GRADES, PERFORMANCES, GradeRule

PERFORMANCE_LABELS = {"excellent": "优秀", "competent": "称职", "basically_competent": "基本称职"}
PERFORMANCE_LABELS["incompetent"] = "不称职"
NO_EXAMINATION = Examination(dict.fromkeys(GRADES, 0), [], [])


@dataclass(frozen=True)
class Graded:
    """A member's grade, the combined score it came from, and the reasons, in the order applied."""

    grade: str
    score: float
    reasons: list[str]


def _ballots(e: Examination, rule: GradeRule) -> tuple[float, str]:
    n = e.turnout
    counts = ", ".join(f"{GRADE_LABELS[g]} {e.ballots.get(g, 0)}" for g in GRADES)
    value = sum(e.ballots.get(g, 0) * p for g, p in zip(GRADES, rule.ballot_points, strict=True)) / n
    return value, f"民主评议 ballots: {n} ({counts}) → {value:.1f}"


def _appraisal(e: Examination, rule: GradeRule) -> tuple[float, str]:
    points = dict(zip(PERFORMANCES, rule.performance_points, strict=True))
    each = [(a.trial_quality + points[a.performance]) / 2 for a in e.appraisals]
    value = sum(each) / len(each)
    said = "; ".join(
        f"{a.source}: 审判质效 {a.trial_quality:g}, 干部绩效考核 {PERFORMANCE_LABELS[a.performance]}"
        for a in e.appraisals
    )
    return value, f"appraisal: {said} → {value:.1f}"


def _points(points: float, median: float) -> tuple[float, str]:
    value = 100.0 if median <= 0 else min(1.0, points / median) * 100
    return value, f"year points: {points:g} against the branch's median {median:g} → {value:.1f}"


def _by_score(score: float, rule: GradeRule) -> str:
    for grade, floor in (("good", rule.good), ("fairly_good", rule.fairly_good), ("average", rule.average)):
        if score >= floor:
            return grade
    return "poor"


def _caps(e: Examination, others: int, rule: GradeRule) -> list[tuple[str, str]]:
    """The hard rules that bind this member: (the grade at best, why)."""
    caps = []
    if e.turnout and e.ballots.get("poor", 0) * 2 > e.turnout:
        caps.append((rule.poor_majority_cap, "more than half the ballots 较差 (poor)"))
    performances = {a.performance for a in e.appraisals}
    if "incompetent" in performances:
        caps.append((rule.incompetent_cap, "干部绩效考核 不称职 (incompetent)"))
    if "basically_competent" in performances:
        caps.append((rule.basically_competent_cap, "干部绩效考核 基本称职 (basically competent)"))
    if rule.pledge_kind not in e.done:
        caps.append((rule.no_pledge_cap, f"no {rule.pledge_kind} (党风廉政承诺书) in the year"))
    needed = rule.min_turnout * others
    if e.turnout < needed:
        caps.append((rule.low_turnout_cap, f"{e.turnout} ballots, fewer than {needed:g} (turnout)"))
    return caps


def grade(e: Examination | None, points: float, median: float, others: int, rule: GradeRule) -> Graded:
    """One member's grade from its examination, its year points, the branch's median year points and
    the number of the branch's other members (who could vote on it)."""
    e = e or NO_EXAMINATION
    parts = [(rule.points_weight, *_points(points, median))]
    if e.turnout:
        parts.append((rule.ballots_weight, *_ballots(e, rule)))
    if e.appraisals:
        parts.append((rule.appraisal_weight, *_appraisal(e, rule)))
    weight = sum(w for w, _, _ in parts)
    score = round(sum(w * v for w, v, _ in parts) / weight, 2) if weight else 0.0
    reasons = [why for _, _, why in parts]
    got = _by_score(score, rule)
    reasons.append(f"combined {score:g} → {GRADE_LABELS[got]} ({got})")
    for cap, why in _caps(e, others, rule):
        if GRADES.index(cap) > GRADES.index(got):
            got = cap
            reasons.append(f"capped at {GRADE_LABELS[cap]} ({cap}): {why}")
        else:
            reasons.append(f"{why} (caps at {GRADE_LABELS[cap]}; already there or below)")
    return Graded(got, score, reasons)


def grade_branch(
    members: list[str], exams: Mapping[str, Examination], points: Mapping[str, float], rule: GradeRule
) -> dict[str, Graded]:
    """Every member of one branch graded: the median and the voters are the branch's own."""
    median = statistics.median([points.get(m, 0.0) for m in members]) if members else 0.0
    others = max(len(members) - 1, 0)
    return {m: grade(exams.get(m), points.get(m, 0.0), median, others, rule) for m in members}


def distribution(grades: Mapping[str, Graded]) -> dict[str, int]:
    """How many members got each grade."""
    out = dict.fromkeys(GRADES, 0)
    for g in grades.values():
        out[g.grade] += 1
    return out
