"""The rulebook as data: points per kind, dimension weights and monthly caps."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, cast

from services.scoring.core.grade_rules import ExcellentRule, GradeRule, parse_grade_rules
from shared.contracts import TERMS, ContactKind, DeploymentKind, TrainingKind
from shared.review import parse_policy

DIMENSIONS = ("service", "trial", "people", "team")
DIMENSION_LABELS = {
    "service": "服务大局 serving the overall development",
    "trial": "融入审判执行 integration with trials and enforcement",
    "people": "司法为民 serving the people",
    "team": "队伍建设 team building",
}


def kind_label(kind: str) -> str:
    """The kind's Chinese term with its English gloss, e.g. "走访 a visit"."""
    term, gloss = TERMS[cast(StrEnum, kind)]  # a StrEnum member and its value are the same key
    return f"{term} {gloss}"


ALL_KINDS = {k.value for k in (*DeploymentKind, *ContactKind, *TrainingKind)}
SESSION_KINDS = {k.value for k in TrainingKind}  # counted once per member and session


@dataclass(frozen=True, slots=True)
class KindRule:
    dimension: str
    points: float
    per: Literal["record", "hour"] = "record"


@dataclass(frozen=True)
class AdvancedRule:
    min_compliance: float
    court_share: float
    city_share: float


@dataclass(frozen=True)
class FinalisationRule:
    """Closing the year (考核结果公示): appeals are taken until the end of the `appeal_days`-th
    day (Asia/Shanghai) after a version's day."""

    appeal_days: int = 7


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """[reminders]: a window is due from `due_days` before its last day; a window closed undone is
    told as overdue for `overdue_days` after (not years of history to a new branch)."""

    due_days: int = 7
    overdue_days: int = 31


@dataclass(frozen=True)
class Rulebook:
    version: str
    effective_from: str
    weights: dict[str, float]
    monthly_cap: dict[str, float]
    kinds: dict[str, KindRule]
    cadence: dict[str, str]  # kind -> month | quarter | year
    advanced: AdvancedRule
    finalisation: FinalisationRule  # an older rulebook without [finalisation] gets its defaults
    reminders: ReminderRule | None = None  # absent from rulebooks older than reminders
    grades: GradeRule = field(default_factory=GradeRule)  # [grades]: the defaults where absent
    excellent: ExcellentRule = field(default_factory=ExcellentRule)  # [excellent], likewise


def parse_rulebook(data: dict[str, Any]) -> Rulebook:
    """Build and check a rulebook from its TOML data; a mistake fails loudly at start."""
    kinds = {name: KindRule(**rule) for name, rule in data["kinds"].items()}
    problems = []
    if missing := ALL_KINDS - kinds.keys():
        problems.append(f"kinds without a rule: {sorted(missing)}")
    if unknown := kinds.keys() - ALL_KINDS:
        problems.append(f"rules for unknown kinds: {sorted(unknown)}")
    problems += [
        f"{k}: unknown dimension {r.dimension}" for k, r in kinds.items() if r.dimension not in DIMENSIONS
    ]
    problems += [
        f"{k}: per must be record or hour" for k, r in kinds.items() if r.per not in ("record", "hour")
    ]
    for table in ("weights", "monthly_cap"):
        if set(data[table]) != set(DIMENSIONS):
            problems.append(f"{table} must name exactly {DIMENSIONS}")
    problems += [
        f"cadence {k}: must be a training kind with month, quarter or year"
        for k, unit in data["cadence"].items()
        if k not in SESSION_KINDS or unit not in ("month", "quarter", "year")
    ]
    if abs(sum(data["weights"].values()) - 1) > 1e-9:
        problems.append("weights must sum to 1")
    finalisation = FinalisationRule(**data.get("finalisation", {}))
    if not isinstance(finalisation.appeal_days, int) or not 0 <= finalisation.appeal_days <= 365:
        problems.append("finalisation.appeal_days must be a whole number of days from 0 to 365")
    grades, excellent, grade_problems = parse_grade_rules(data, set(kinds))
    problems += grade_problems
    try:  # [review]: the kinds a member's or clerk's record needs review for (审核; intakes read it)
        parse_policy(data)
    except ValueError as err:
        problems.append(str(err).removeprefix("invalid rulebook: "))
    if problems:
        raise ValueError("invalid rulebook: " + "; ".join(problems))
    return Rulebook(
        version=str(data["version"]),
        effective_from=str(data["effective_from"]),
        weights={d: float(data["weights"][d]) for d in DIMENSIONS},
        monthly_cap={d: float(data["monthly_cap"][d]) for d in DIMENSIONS},
        kinds=kinds,
        cadence=dict(data["cadence"]),
        advanced=AdvancedRule(**data["advanced"]),
        reminders=ReminderRule(**data["reminders"]) if "reminders" in data else None,
        grades=grades,
        excellent=excellent,
        finalisation=finalisation,
    )
