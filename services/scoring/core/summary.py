"""A ledger's summary: what the score feed carries of one ledger (every period's scores and their
breakdown, without the facts), typed once for the worker that writes it and the API that reads it."""

from collections.abc import Iterable
from datetime import datetime

import msgspec

from services.scoring.core.examination import Examination
from services.scoring.core.scores import MemberPeriodScore, PeriodScore


class KindTotals(msgspec.Struct, frozen=True, gc=False):
    """One kind's records in a period: how many, their hours, and their points before caps."""

    count: int
    hours: float
    points: float
    sessions: int = 0  # meetings and training: sessions held (count is attendances); 0 otherwise


class CapHit(msgspec.Struct, frozen=True, gc=False):
    """A member whose points in a dimension and month went past the monthly cap."""

    month: str
    member_id: str
    dimension: str
    points: float
    cap: float


class PeriodSummary(msgspec.Struct, frozen=True, gc=False):
    """One ledger's scores in one period: raw points per dimension (after caps), and why."""

    points: dict[str, float]
    kinds: dict[str, KindTotals]
    caps_hit: list[CapHit]
    members: list[str]  # members seen in the period's records, sorted


class LedgerSummary(msgspec.Struct, frozen=True, gc=False):
    """A ledger's scores as of its offset: one branch, one stream, one year."""

    id: str = msgspec.field(name="_id")  # "<branch>|<stream>|<year>", the ledger's key
    branch_id: str
    stream: str
    year: str
    offset: int
    rulebook_version: str
    last_event_time: datetime | None
    scores: dict[str, PeriodSummary]  # period -> scores, every month, quarter and year touched
    generation: int = 0  # set when published on the feed


class PeriodRow(msgspec.Struct, frozen=True, gc=False):
    """A summary's scores in one period, with the ledger they came from."""

    branch_id: str
    stream: str
    period: str
    score: PeriodSummary
    last_event_time: datetime | None


def period_summary(s: PeriodScore) -> PeriodSummary:
    """A period score as the feed carries it (the worker builds one per period of every ledger a
    batch changed: positional, and untracked by the collector, since they hold no cycles)."""
    return PeriodSummary(
        s.points,
        {k: KindTotals(t.count, t.hours, t.points, len(t.sessions)) for k, t in s.kinds.items()},
        [CapHit(**c) for c in s.caps_hit] if s.caps_hit else [],
        sorted(s.members),
    )


class MemberPeriod(msgspec.Struct, frozen=True, gc=False):
    """One member's scores in one period of one ledger: points per dimension after the member's
    monthly caps, and the kinds they came from."""

    points: dict[str, float]
    kinds: dict[str, KindTotals]


class MemberSummary(msgspec.Struct, frozen=True, gc=False):
    """A member's scores in one ledger (one branch, stream and year) as of the ledger's offset: one
    feed record per member and ledger, so no record grows with the branch."""

    id: str = msgspec.field(name="_id")  # member_summary_id(): "m|<member>|<branch>|<stream>|<year>"
    member_id: str
    branch_id: str
    stream: str
    year: str
    offset: int  # the ledger's
    rulebook_version: str
    last_event_time: datetime | None  # the ledger's newest record
    scores: dict[str, MemberPeriod]  # period -> scores; empty: the member has nothing left there
    generation: int = 0  # set when published on the feed
    # The yearly examination's inputs in this ledger (training ledgers only: ballots, appraisals,
    # training kinds done); None elsewhere and in records written before it existed.
    examination: Examination | None = None


MEMBER_PREFIX = "m|"


def member_summary_id(member_id: str, ledger_id: str) -> str:
    """A member record's id: "m|<member>|" and its ledger's "<branch>|<stream>|<year>" (ids never
    hold "|", so five parts tell it from a ledger's three, even of a branch called "m")."""
    return f"{MEMBER_PREFIX}{member_id}|{ledger_id}"


def is_member_summary_id(summary_id: str) -> bool:
    return summary_id.startswith(MEMBER_PREFIX) and summary_id.count("|") == 4


def member_period(s: MemberPeriodScore) -> MemberPeriod:
    """A member's period score as the feed carries it."""
    kinds = {k: KindTotals(t.count, t.hours, t.points, len(t.sessions)) for k, t in s.kinds.items()}
    return MemberPeriod(s.points, kinds)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(LedgerSummary)
_MEMBER_DECODER = msgspec.json.Decoder(MemberSummary)


def encode(summary: LedgerSummary) -> bytes:
    """The summary as the feed's JSON (field `_id` for the key, RFC 3339 times)."""
    return _ENCODER.encode(summary)


def decode(raw: bytes) -> LedgerSummary:
    """A feed record's summary; msgspec.ValidationError when it is not one."""
    return _DECODER.decode(raw)


def encode_member(summary: MemberSummary) -> bytes:
    """A member summary as the feed's JSON (`_id` first, as for ledgers)."""
    return _ENCODER.encode(summary)


def decode_member(raw: bytes) -> MemberSummary:
    """A feed record's member summary; msgspec.ValidationError when it is not one."""
    return _MEMBER_DECODER.decode(raw)


def period_rows(summaries: Iterable[LedgerSummary], periods: set[str]) -> list[PeriodRow]:
    """One row per (branch, stream, period) asked for."""
    return [
        PeriodRow(s.branch_id, s.stream, period, score, s.last_event_time)
        for s in summaries
        for period, score in s.scores.items()
        if period in periods
    ]
