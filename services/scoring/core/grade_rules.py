"""The rulebook's [grades] (政治素质考察) and [excellent] (优秀等次) sections: the rules as data, with
defaults equal to the rulebook file's, so a generation scored under an older rulebook grades too."""

from dataclasses import dataclass, fields
from typing import Any

GRADES = ("good", "fairly_good", "average", "poor")  # best first; also the ballot levels
GRADE_LABELS = {"good": "好", "fairly_good": "较好", "average": "一般", "poor": "较差"}
PERFORMANCES = ("excellent", "competent", "basically_competent", "incompetent")


@dataclass(frozen=True)
class GradeRule:
    """How ballots, appraisals and year points make a member's grade, and the caps that bind it."""

    ballots_weight: float = 0.5  # 民主评议
    appraisal_weight: float = 0.3  # 审判质效 and 干部绩效考核
    points_weight: float = 0.2  # the member's year points against the branch's median
    ballot_points: tuple[float, ...] = (100.0, 80.0, 50.0, 0.0)  # per level, best first
    performance_points: tuple[float, ...] = (100.0, 85.0, 60.0, 0.0)  # per result, best first
    good: float = 85.0  # a combined score from here: 好
    fairly_good: float = 70.0  # 较好
    average: float = 55.0  # 一般; below: 较差
    min_turnout: float = 0.5  # ballots needed, as a share of the branch's other members
    pledge_kind: str = "integrity_pledge"  # the yearly pledge every member signs (党风廉政承诺书)
    poor_majority_cap: str = "poor"  # more than half the ballots 较差
    incompetent_cap: str = "poor"  # an appraisal of 不称职
    basically_competent_cap: str = "fairly_good"  # an appraisal of 基本称职
    no_pledge_cap: str = "average"  # no pledge in the year
    low_turnout_cap: str = "fairly_good"  # too few ballots to judge by


@dataclass(frozen=True)
class ExcellentRule:
    """The excellent places (优秀等次) per court: a base share of members, more for advanced branches."""

    base_share: float = 0.15
    advanced_extra: float = 0.05  # added to the base share for members of the year's advanced branches


def _built(cls: type, data: dict[str, Any], problems: list[str]) -> Any:
    names = {f.name for f in fields(cls)}
    if unknown := data.keys() - names:
        problems.append(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    values = {
        k: tuple(float(x) for x in v) if isinstance(v, list) else v for k, v in data.items() if k in names
    }
    return cls(**values)


def parse_grade_rules(data: dict[str, Any], kinds: set[str]) -> tuple[GradeRule, ExcellentRule, list[str]]:
    """[grades] and [excellent] of a rulebook's data (defaults where absent), and what is wrong."""
    problems: list[str] = []
    g: GradeRule = _built(GradeRule, data.get("grades", {}), problems)
    e: ExcellentRule = _built(ExcellentRule, data.get("excellent", {}), problems)
    if abs(g.ballots_weight + g.appraisal_weight + g.points_weight - 1) > 1e-9:
        problems.append("grades: the three weights must sum to 1")
    if len(g.ballot_points) != len(GRADES) or len(g.performance_points) != len(PERFORMANCES):
        problems.append("grades: ballot_points and performance_points name four values, best first")
    if not 100 >= g.good >= g.fairly_good >= g.average >= 0:
        problems.append("grades: thresholds must fall from good to average, within 0..100")
    if not 0 <= g.min_turnout <= 1:
        problems.append("grades: min_turnout is a share from 0 to 1")
    if g.pledge_kind not in kinds:
        problems.append(f"grades: pledge_kind {g.pledge_kind} is no kind of the rulebook")
    caps = [f.name for f in fields(GradeRule) if f.name.endswith("_cap")]
    problems += [f"grades: {c} must be one of {GRADES}" for c in caps if getattr(g, c) not in GRADES]
    if not (0 <= e.base_share <= 1 and 0 <= e.advanced_extra <= 1 - e.base_share):
        problems.append("excellent: base_share and base_share + advanced_extra are shares from 0 to 1")
    return g, e, problems


def grade_rules_toml(g: GradeRule, e: ExcellentRule) -> list[str]:
    """The two sections as TOML lines (rulebooks.rulebook_toml writes the whole rulebook back)."""
    lines = ["[grades]"]
    for f in fields(GradeRule):
        value = getattr(g, f.name)
        text = (
            f'"{value}"'
            if isinstance(value, str)
            else repr(list(value) if isinstance(value, tuple) else value)
        )
        lines.append(f"{f.name} = {text}")
    lines += ["", "[excellent]", *(f"{f.name} = {getattr(e, f.name)!r}" for f in fields(ExcellentRule)), ""]
    return lines
