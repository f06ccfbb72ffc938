"""Review (审核) rules shared by the intake services and the scoring API: which submissions need
review, and who may review a branch's records or read their evidence. Pure rules, no I/O."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from shared.contracts import ContactKind, DeploymentKind, TrainingKind
from shared.principal import ADMIN, Principal, Refused

# Roles whose records count only once approved: members submit their own (自评/申报), clerks
# for a branch; a service's, a secretary's or an admin's records count at once, as before.
REVIEWED_ROLES = frozenset({"member", "clerk"})
ALL = "all"
KINDS = frozenset(k.value for k in (*DeploymentKind, *ContactKind, *TrainingKind))


@dataclass(frozen=True)
class ReviewPolicy:
    """The kinds that need review when a member or clerk submits them (None: every kind)."""

    kinds: frozenset[str] | None = None

    def needs_review(self, who: Principal, kind: str | None) -> bool:
        """Whether a record of `kind` from `who` counts only once approved (a record without a
        kind, such as a ballot of the yearly examination, is never reviewed)."""
        if who.role not in REVIEWED_ROLES or kind is None:
            return False
        return self.kinds is None or kind in self.kinds


def parse_policy(data: dict, known_kinds: frozenset[str] = KINDS) -> ReviewPolicy:
    """The rulebook's `[review]` table (`kinds = "all"` or a list of kinds; absent: all)."""
    kinds = data.get("review", {}).get("kinds", ALL)
    if kinds == ALL:
        return ReviewPolicy(None)
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValueError('invalid rulebook: [review] kinds must be "all" or a list of kinds')
    if unknown := set(kinds) - known_kinds:
        raise ValueError(f"invalid rulebook: [review] names unknown kinds: {sorted(unknown)}")
    return ReviewPolicy(frozenset(kinds))


def read_policy(path: Path) -> ReviewPolicy:
    """The policy of the rulebook file at `path` (none there: every kind needs review)."""
    if not path.is_file():
        return ReviewPolicy(None)
    return parse_policy(tomllib.loads(path.read_text(encoding="utf-8")))


def check_reviewer(who: Principal, branch_id: str, court: str | None) -> None:
    """Refused unless `who` reviews `branch_id` (registered in `court`): its branch's secretary, an
    admin of its court, or a city-wide admin."""
    if who.role == "secretary" and who.branch == branch_id and who.court == court:
        return
    if ADMIN in who.scopes and who.branch is None and (who.court is None or who.court == court):
        return
    raise Refused(
        f"branch {branch_id}'s records are reviewed by its secretary or an admin of its court; "
        f"the token acts as {who.role} for {who.where()}"
    )
