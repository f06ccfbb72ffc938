"""A ledger's summary: what the score feed carries of one ledger (every period's scores and their
breakdown, without the facts), typed once for the worker that writes it and the API that reads it."""

from collections.abc import Iterable
from datetime import datetime

import msgspec

from services.scoring.core.scores import PeriodScore


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


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(LedgerSummary)


def encode(summary: LedgerSummary) -> bytes:
    """The summary as the feed's JSON (field `_id` for the key, RFC 3339 times)."""
    return _ENCODER.encode(summary)


def decode(raw: bytes) -> LedgerSummary:
    """A feed record's summary; msgspec.ValidationError when it is not one."""
    return _DECODER.decode(raw)


def period_rows(summaries: Iterable[LedgerSummary], periods: set[str]) -> list[PeriodRow]:
    """One row per (branch, stream, period) asked for."""
    return [
        PeriodRow(s.branch_id, s.stream, period, score, s.last_event_time)
        for s in summaries
        for period, score in s.scores.items()
        if period in periods
    ]
