"""Rulebook text: reading the file (the one piece of rulebook handling that touches the disk),
parsing text (a generation's pointer carries the text it was scored under) and writing it back."""

import json
import tomllib
from dataclasses import asdict
from pathlib import Path

from services.scoring.core.grade_rules import grade_rules_toml
from services.scoring.core.rulebook import Rulebook, parse_rulebook

DEFAULT_RULEBOOK = Path(__file__).with_name("rulebook.toml")


def read_rulebook_text(path: Path = DEFAULT_RULEBOOK) -> str:
    return path.read_text(encoding="utf-8")


def parse_rulebook_text(text: str) -> Rulebook:
    """A rulebook from TOML text, checked as at start (a mistake raises ValueError)."""
    return parse_rulebook(tomllib.loads(text))


def load_rulebook(path: Path = DEFAULT_RULEBOOK) -> Rulebook:
    return parse_rulebook_text(read_rulebook_text(path))


def rulebook_toml(rulebook: Rulebook) -> str:
    """The rulebook as TOML text that parses back to an equal rulebook (comments are not kept)."""

    def s(value: str) -> str:  # a JSON string is a TOML basic string
        return json.dumps(value, ensure_ascii=False)

    def table(name: str, values: dict) -> list[str]:
        return [f"[{name}]", *(f"{s(k)} = {v!r}" for k, v in values.items()), ""]

    a = rulebook.advanced
    lines = [f"version = {s(rulebook.version)}", f"effective_from = {s(rulebook.effective_from)}", ""]
    lines += table("weights", rulebook.weights) + table("monthly_cap", rulebook.monthly_cap)
    for kind, rule in rulebook.kinds.items():
        lines += [f"[kinds.{s(kind)}]", f"dimension = {s(rule.dimension)}"]
        lines += [f"points = {float(rule.points)!r}", f"per = {s(rule.per)}", ""]
    lines += ["[cadence]", *(f"{s(k)} = {s(v)}" for k, v in rulebook.cadence.items()), ""]
    lines += table("advanced", {k: float(v) for k, v in vars(a).items()})
    lines += table("finalisation", {"appeal_days": rulebook.finalisation.appeal_days})
    if rulebook.reminders is not None:
        lines += table("reminders", asdict(rulebook.reminders))
    lines += grade_rules_toml(rulebook.grades, rulebook.excellent)
    return "\n".join(lines)
