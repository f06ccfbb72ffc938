"""Members' records on the score feed: what a ledger's change makes of its members' scores, one
record per member and ledger (so no record grows with the branch)."""

from collections.abc import Iterable
from typing import Protocol

from services.scoring.core.examination import examine
from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Ledger
from services.scoring.core.scores import MemberScores
from services.scoring.core.summary import MemberSummary, member_period, member_summary_id
from services.scoring.score_feed import encode_member, feed_key
from services.scoring.store import LedgerKey, StoredLedger

# What fold_at answers for a record that changed nothing the scores count.
UNCHANGED = frozenset({"replayed", "duplicate", "conflict"})


class Names(Protocol):
    """Every item the fold applies names the record it is or acts on."""

    @property
    def event_id(self) -> str: ...


def member_of(item: Names, ledger: Ledger) -> str | None:
    """The member a fold of `item` may change the scores of: a fact's own, or that of the counted
    fact it acts on (a void, a review decision), looked up in `ledger`; None when it holds none.
    Asked before the fold (a void or a decline removes the fact) and after it (an approval adds it)."""
    if isinstance(item, Fact):
        return item.member_id
    counted = ledger.facts.get(item.event_id)
    return counted.member_id if counted is not None else None


def members_changed(items: Iterable[Names], before: Ledger, after: Ledger) -> set[str]:
    """The members whose scores folding `items` into `before` (giving `after`) may have changed."""
    found = {member_of(item, ledger) for item in items for ledger in (before, after)}
    return {m for m in found if m is not None}


def members_of(ledger: Ledger) -> set[str]:
    """Every member the ledger counts a fact of."""
    return {f.member_id for f in ledger.facts.values()}


def member_summaries(
    key: LedgerKey, stored: StoredLedger, scores: MemberScores, members: Iterable[str], version: str
) -> list[MemberSummary]:
    """The summaries of `members` in one ledger; a member with nothing left in it gets empty scores
    (the record that tells readers to drop them). A training ledger's carry the examination too."""
    members = sorted(members)
    wanted = set(members)
    facts = stored.ledger.facts.values()
    exams = examine(f for f in facts if f.member_id in wanted) if key.stream == "training" else {}
    return [
        MemberSummary(
            id=member_summary_id(member, key.id),
            member_id=member,
            branch_id=key.branch_id,
            stream=key.stream,
            year=key.year,
            offset=stored.offset,
            rulebook_version=version,
            last_event_time=stored.last_event_time,
            scores={p: member_period(s) for p, s in sorted(scores.get(member, {}).items())},
            examination=exams.get(member),
        )
        for member in sorted(members)
    ]


def member_records(generation: int, summaries: list[MemberSummary]) -> list[tuple[str, bytes]]:
    """The feed's (key, value) records of member summaries published under `generation`."""
    return [(feed_key(generation, s.id), encode_member(generation, s)) for s in summaries]
