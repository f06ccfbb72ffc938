"""Year-end advanced-branch (先进党支部) candidates: top share by total, within quota, among
branches that kept their organisational life."""

import math
from collections import Counter
from dataclasses import dataclass

from services.scoring.core.ranking import Ranked, rank
from services.scoring.core.rulebook import AdvancedRule


@dataclass(frozen=True)
class Candidate:
    branch_id: str
    court: str
    total: float
    compliance: float  # the year's kept share of required cadence windows (compliance.Tally)


def quota(size: int, share: float) -> int:
    """Places for a pool of `size` branches: `share` of them rounded up, at least one (none of none)."""
    return max(1, math.ceil(size * share)) if size else 0


def eligible(candidates: list[Candidate], rule: AdvancedRule) -> list[Candidate]:
    """Those that may fill a place: a positive total and at least min_compliance kept."""
    return [c for c in candidates if c.compliance >= rule.min_compliance and c.total > 0]


def _top(pool: list[Candidate], quota_of: int, share: float) -> list[Ranked]:
    places = quota(quota_of, share)
    # Competition ranking: a tie at the boundary names every tied branch.
    return rank({c.branch_id: c.total for c in pool}, top=places) if places else []


def select(candidates: list[Candidate], rule: AdvancedRule) -> tuple[dict[str, list[Ranked]], list[Ranked]]:
    """Per court and city-wide. Quotas count every branch; only eligible ones can fill them."""
    fit = eligible(candidates, rule)
    by_court: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_court.setdefault(c.court, [])
    for c in fit:
        by_court[c.court].append(c)
    sizes = Counter(c.court for c in candidates)
    courts = {court: _top(pool, sizes[court], rule.court_share) for court, pool in sorted(by_court.items())}
    return courts, _top(fit, len(candidates), rule.city_share)
