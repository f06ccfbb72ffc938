"""The yearly examination's inputs per member (政治素质考察): the democratic-evaluation ballots
(民主评议) tallied by level, the appraisals (审判质效, 干部绩效考核) and the training kinds done, read
from the facts of one branch's training ledger of one year."""

from collections.abc import Callable, Iterable

import msgspec
import orjson

from services.scoring.core.facts import APPRAISAL, EVALUATION, Fact
from shared.contracts import EvaluationLevel

LEVELS = tuple(level.value for level in EvaluationLevel)  # good, fairly_good, average, poor


class AppraisalLine(msgspec.Struct, frozen=True, gc=False):
    """The latest appraisal of one source (审判质效 out of 100, 干部绩效考核)."""

    source: str
    trial_quality: float
    performance: str
    event_id: str


class Examination(msgspec.Struct, frozen=True, gc=False):
    """One member's inputs of the year in one branch: ballot counts per level (one per voter, the
    latest), appraisals (the latest per source), and the training kinds the member completed."""

    ballots: dict[str, int]
    appraisals: list[AppraisalLine]
    done: list[str]  # training kinds with at least one completion in the year, sorted

    @property
    def turnout(self) -> int:
        return sum(self.ballots.values())


KeyOf = Callable[[Fact, dict], tuple[str, ...]]


def _latest(facts: list[Fact], key_of: KeyOf) -> dict[tuple[str, ...], tuple[Fact, dict]]:
    """Per key, the record accepted last (ties by id): live scoring and a rescore fold the same
    facts, so both keep the same one whatever order the facts came in."""
    chosen: dict[tuple[str, ...], tuple[tuple[int, str], Fact, dict]] = {}
    for f in facts:
        said = orjson.loads(f.detail)
        key, order = key_of(f, said), (int(said["at"]), f.event_id)
        held = chosen.get(key)
        if held is None or order > held[0]:
            chosen[key] = (order, f, said)
    return {k: (f, said) for k, (_, f, said) in chosen.items()}


def examine(facts: Iterable[Fact]) -> dict[str, Examination]:
    """Every member's examination inputs in a ledger's facts (every member the facts name): a
    ballot under a new id from the same voter for the same member supersedes the earlier one."""
    ballots: list[Fact] = []
    appraisals: list[Fact] = []
    done: dict[str, set[str]] = {}
    for f in facts:
        if f.kind == EVALUATION:
            ballots.append(f)
        elif f.kind == APPRAISAL:
            appraisals.append(f)
        else:
            done.setdefault(f.member_id, set()).add(f.kind)
            continue
        done.setdefault(f.member_id, set())
    tallies: dict[str, dict[str, int]] = {}
    for (member, _voter), (_, said) in _latest(ballots, lambda f, s: (f.member_id, s["voter"])).items():
        tally = tallies.setdefault(member, dict.fromkeys(LEVELS, 0))
        tally[said["level"]] += 1
    lines: dict[str, list[AppraisalLine]] = {}
    for (member, source), (f, said) in sorted(
        _latest(appraisals, lambda f, s: (f.member_id, s["source"])).items()
    ):
        line = AppraisalLine(source, float(said["trial_quality"]), said["performance"], f.event_id)
        lines.setdefault(member, []).append(line)
    members = sorted(done)
    return {
        m: Examination(tallies.get(m, dict.fromkeys(LEVELS, 0)), lines.get(m, []), sorted(done.get(m, set())))
        for m in members
    }
