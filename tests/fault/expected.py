"""What the scoring API must answer for a driver's ledger: the ledger folded by the pure scoring
core (services/scoring/core), the same rules the worker applies, with no Kafka and no database."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.scoring.core.facts import Void, fact_of
from services.scoring.core.ledger import Ledger, apply
from services.scoring.core.periods import months_in, periods_of_month
from services.scoring.core.ranking import rank
from services.scoring.core.rulebook import Rulebook
from services.scoring.core.scores import PeriodScore, score
from services.scoring.core.standing import Part, merge, standing
from services.scoring.rulebooks import load_rulebook
from shared.contracts import EVENT_TYPES, Stream, build_event, parse_event, type_for
from tests.fault.driver import Ledger as Acknowledged


@dataclass
class Expected:
    """Scores per (branch, stream, period) that the recompute derives, for every period touched."""

    scores: dict[tuple[str, str, str], PeriodScore] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        """Records that count in the year 2024, all streams (what /v1/stats adds up per month)."""
        months = set(months_in("2024"))
        return sum(t.count for (_, _, p), s in self.scores.items() if p in months for t in s.kinds.values())


def recompute(acked: Acknowledged, rulebook: Rulebook | None = None) -> Expected:
    """Fold every acknowledged record, then every void, into per-ledger state and score it."""
    rulebook = rulebook or load_rulebook()
    ledgers: dict[tuple[str, str, str], Ledger] = defaultdict(Ledger)
    months: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for event_id, (service, body) in acked.records.items():
        model = EVENT_TYPES[type_for(Stream(service))].model
        payload = model.model_validate({k: v for k, v in body.items() if k != "id"})
        envelope = build_event(event_id, service, Stream(service), payload, datetime.now(UTC))
        fact = fact_of(parse_event(envelope.model_dump_json()))
        key = (body["branch_id"], service, fact.month[:4])
        apply(ledgers[key], fact)
        months[key].add(fact.month)
        if event_id in acked.voided:
            apply(ledgers[key], Void(event_id, fact.month))
    expected = Expected()
    for key, ledger in ledgers.items():
        derived = score(ledger.facts.values(), rulebook)
        # The worker writes every period an event touched, even one a void left empty.
        for period in {p for m in months[key] for p in periods_of_month(m)}:
            expected.scores[(key[0], key[1], period)] = derived.get(period, PeriodScore())
    return expected


def stats(expected: Expected, year: str = "2024") -> dict[str, dict]:
    """stream -> {records, hours, kinds: kind -> (count, hours)} as /v1/stats over the year's months."""
    out: dict[str, dict] = {}
    months = set(months_in(year))
    for (_, stream, period), s in sorted(expected.scores.items()):
        if period not in months:
            continue
        entry = out.setdefault(stream, {"records": 0, "hours": 0.0, "kinds": {}})
        for kind, t in s.kinds.items():
            count, hours = entry["kinds"].get(kind, (0, 0.0))
            entry["kinds"][kind] = (count + t.count, hours + t.hours)
            entry["records"] += t.count
            entry["hours"] += t.hours
    return out


def ranking(expected: Expected, members: dict[str, int], period: str, rulebook: Rulebook) -> dict[str, dict]:
    """branch -> {rank, scores} as /v1/rankings ranks the registered branches (`members`: the
    registry's number of each) by total: the streams merged and scored by the core's standing."""
    parts: dict[str, list[Part]] = defaultdict(list)
    for (branch, _, p), s in expected.scores.items():
        if p == period and branch in members:
            parts[branch].append((s.points, s.members, None))
    rows = {b: merge(b, ps) for b, ps in parts.items()}
    scores = {b: standing(row, members[b], rulebook).scores for b, row in rows.items() if row is not None}
    ranked = rank({b: s["total"] for b, s in scores.items()})
    return {r.branch_id: {"rank": r.rank, "scores": scores[r.branch_id]} for r in ranked}


def breakdown(expected: Expected, branch: str, period: str) -> dict:
    """What /v1/branches/{id}/score lists: (stream, kind) -> (count, hours, points), caps hit."""
    kinds, caps = {}, []
    for (b, stream, p), s in expected.scores.items():
        if b == branch and p == period:
            kinds.update({(stream, k): (t.count, t.hours, t.points) for k, t in s.kinds.items()})
            caps += s.caps_hit
    return {"kinds": kinds, "caps_hit": caps}
