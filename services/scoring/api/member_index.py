"""The score view's members: every member record of the live generation, indexed by member, branch
and year, kept as the feed's bytes and decoded when asked for (a branch's or a member's few)."""

from dataclasses import dataclass

from services.scoring.core.summary import MemberSummary
from services.scoring.score_feed import decode_member


@dataclass(frozen=True, slots=True)
class _Entry:
    offset: int
    member_id: str
    branch_id: str
    year: str
    raw: bytes


def _add(index: dict[str, dict[str, _Entry]], key: str, record_id: str, entry: _Entry) -> None:
    index.setdefault(key, {})[record_id] = entry


def _drop(index: dict[str, dict[str, _Entry]], key: str, record_id: str) -> None:
    found = index.get(key)
    if found is not None:
        found.pop(record_id, None)
        if not found:
            del index[key]


class MemberIndex:
    """The newest record of every (member, branch, stream, year); a record with empty scores (the
    member has nothing left in that ledger) is remembered for its offset only."""

    def __init__(self) -> None:
        self._records: dict[str, _Entry] = {}
        self._by_member: dict[str, dict[str, _Entry]] = {}
        self._by_branch: dict[str, dict[str, _Entry]] = {}
        self._by_year: dict[str, dict[str, _Entry]] = {}
        self.version = 0  # changes so far: what caches key on

    def apply(self, raw: bytes) -> None:
        """Take a member's newer record (an older or equal one, from a replay, changes nothing)."""
        record = decode_member(raw)
        old = self._records.get(record.id)
        if old is not None and old.offset >= record.offset:
            return
        rid, new = record.id, _Entry(record.offset, record.member_id, record.branch_id, record.year, raw)
        self._records[rid] = new
        if old is not None:
            self._unindex(rid, old)
        if record.scores or record.examination:  # a member with ballots only is still examined
            _add(self._by_member, new.member_id, rid, new)
            _add(self._by_branch, new.branch_id, rid, new)
            _add(self._by_year, new.year, rid, new)
        self.version += 1

    def _unindex(self, rid: str, old: _Entry) -> None:
        _drop(self._by_member, old.member_id, rid)
        _drop(self._by_branch, old.branch_id, rid)
        _drop(self._by_year, old.year, rid)

    def __len__(self) -> int:
        return sum(len(x) for x in self._by_year.values())

    def known(self, member_id: str) -> bool:
        """Whether the member has scores in any ledger of the generation."""
        return member_id in self._by_member

    def of_member(self, member_id: str, year: str | None = None) -> list[MemberSummary]:
        """The member's records (of one year, if given), in every branch and stream."""
        found = list(self._by_member.get(member_id, {}).values())
        return [decode_member(e.raw) for e in found if year is None or e.year == year]

    def of_branch(self, branch_id: str, year: str) -> list[MemberSummary]:
        """The records of the branch's members in one year."""
        found = list(self._by_branch.get(branch_id, {}).values())
        return [decode_member(e.raw) for e in found if e.year == year]

    def of_year(self, year: str) -> list[MemberSummary]:
        """Every member record of one year (decoded: a few microseconds each)."""
        return [decode_member(e.raw) for e in list(self._by_year.get(year, {}).values())]
