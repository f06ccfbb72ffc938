"""How a ledger's review decisions are stored in its head document: as columns (one array per
field, as facts are), the decision time in whole microseconds since 1970 (BSON's datetime keeps
milliseconds, and two decisions a fraction of a millisecond apart must keep their order)."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.scoring.core.review import Decided

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def decision_columns(decisions: Iterable[Decided]) -> dict[str, dict[str, list]]:
    """The head document's `decisions` field: the decisions as columns (none: no field at all, so
    a ledger nobody reviews stores what it stored before)."""
    ds = list(decisions)
    if not ds:
        return {}
    return {
        "decisions": {
            "event_id": [d.event_id for d in ds],
            "month": [d.month for d in ds],
            "decision_id": [d.decision_id for d in ds],
            "approved": [d.approved for d in ds],
            "at_us": [(d.at - _EPOCH) // _MICROSECOND for d in ds],
        }
    }


def decisions_of(columns: dict[str, list] | None) -> dict[str, Decided]:
    """The latest decision per record id, from a head document (none in one stored before review)."""
    if not columns:
        return {}
    rows = zip(
        columns["event_id"],
        columns["month"],
        columns["decision_id"],
        columns["approved"],
        columns["at_us"],
        strict=True,
    )
    return {e: Decided(e, m, i, bool(a), _EPOCH + us * _MICROSECOND) for e, m, i, a, us in rows}
