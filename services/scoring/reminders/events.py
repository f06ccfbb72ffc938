"""Reminders on the wire: CloudEvents 1.0 in structured JSON mode, one per reminder id."""

from datetime import datetime
from typing import Any

import orjson

from services.scoring.reminders.rules import DIGEST, DUE, OVERDUE, Reminder

SOURCE = "/scoring/reminders"
CLOUDEVENT_TYPES = {
    DUE: "cn.court.partybuilding.reminder.due.v1",
    OVERDUE: "cn.court.partybuilding.reminder.overdue.v1",
    DIGEST: "cn.court.partybuilding.reminder.digest.v1",
}
_SHORT = {v: k for k, v in CLOUDEVENT_TYPES.items()}


def envelope(reminder: Reminder, at: datetime) -> bytes:
    """The reminder as a CloudEvent; `at` is when it was published (its id never changes)."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": reminder.id,
            "source": SOURCE,
            "type": CLOUDEVENT_TYPES[reminder.type],
            "subject": reminder.branch_id,
            "time": at.isoformat(),
            "datacontenttype": "application/json",
            "data": reminder.data,
        }
    )


def decode(raw: bytes) -> dict[str, Any]:
    """A reminder event as a dict; ValueError if it is not one."""
    event = orjson.loads(raw)
    if not isinstance(event, dict) or event.get("type") not in _SHORT or not isinstance(event.get("id"), str):
        raise ValueError("not a reminder event")
    return event


def short_type(event: dict[str, Any]) -> str:
    """reminder.due, reminder.overdue or reminder.digest: what subscriptions name."""
    return _SHORT[event["type"]]
