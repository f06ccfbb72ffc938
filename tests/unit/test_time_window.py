"""The time window every record's time must lie in: one pure check the intake and the worker share."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.contracts import (
    DEFAULT_TIME_WINDOW,
    ContractError,
    LiaisonContactMade,
    RecordVoided,
    TimeWindow,
    TrainingCompleted,
    VolunteerDeployed,
    check_time_window,
)
from shared.settings import TimeWindowSettings

NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone(timedelta(hours=8)))
COMMON = {"member_id": "m-1", "branch_id": "b-1"}
ENTERPRISE = {"name": "Cangzhou Steel", "credit_code": "91350100M000100Y43"}


def payloads(at: datetime | str) -> dict[str, object]:
    """One payload of each model, timed `at`, by its time field."""
    return {
        "started_at": VolunteerDeployed.model_validate(
            {**COMMON, "kind": "legal_publicity", "hours": 2, "place": "Yunhe", "started_at": at}
        ),
        "occurred_at": LiaisonContactMade.model_validate(
            {**COMMON, "kind": "visit", "channel": "online", "enterprise": ENTERPRISE, "occurred_at": at}
        ),
        "completed_at": TrainingCompleted.model_validate(
            {**COMMON, "kind": "party_lecture", "session_id": "s-1", "completed_at": at}
        ),
        "record_occurred_at": RecordVoided.model_validate(
            {"event_id": "e-1", "branch_id": "b-1", "record_occurred_at": at, "reason": "typo"}
        ),
    }


def refusal(payload, now: datetime = NOW, window: TimeWindow = DEFAULT_TIME_WINDOW) -> str | None:
    try:
        check_time_window(payload, now, window)  # type: ignore[arg-type]
    except ContractError as err:
        return str(err)
    return None


def test_the_default_window_is_1990_in_beijing_to_ten_minutes_ahead():
    assert DEFAULT_TIME_WINDOW.earliest == EARLIEST
    assert DEFAULT_TIME_WINDOW.ahead == timedelta(minutes=10)
    assert DEFAULT_TIME_WINDOW.describe() == "1990-01-01T00:00:00+08:00 .. now + 10 minutes"


@pytest.mark.parametrize(
    "at",
    [
        EARLIEST,
        datetime(1989, 12, 31, 16, tzinfo=UTC),  # the same instant as EARLIEST
        NOW,
        NOW + timedelta(minutes=10),
        datetime(2024, 6, 1, 12, 9, 59, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_times_inside_the_window_pass_for_every_model(at):
    assert {field: refusal(p) for field, p in payloads(at).items()} == dict.fromkeys(payloads(at))


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # no UTC equivalent: converting it overflows
        "0001-01-01T00:00:00-14:00",
        "9999-12-31T23:59:59-14:00",  # no UTC equivalent either
        "9999-12-31T23:59:59+14:00",
        "1989-12-31T23:59:59.999999+08:00",
        "1989-12-31T15:59:59Z",
        "2024-06-01T04:10:00.000001Z",
        "2024-06-01T12:10:01+08:00",
    ],
)
def test_times_outside_the_window_are_refused_naming_the_field_and_the_window(at):
    for field, payload in payloads(at).items():
        reason = refusal(payload)
        shown = payload.occurred_at.isoformat()  # type: ignore[attr-defined]
        window = "1990-01-01T00:00:00+08:00 .. now + 10 minutes"
        assert reason == f"{field}: {shown} is outside the accepted window {window}"


def test_the_window_follows_the_clock_it_is_given():
    (payload, *_) = payloads(NOW + timedelta(minutes=30)).values()
    assert refusal(payload, now=NOW) is not None
    assert refusal(payload, now=NOW + timedelta(minutes=20)) is None


def test_a_configured_window_is_applied_and_described():
    window = TimeWindow(datetime(2020, 1, 1, tzinfo=UTC), timedelta(seconds=90))
    assert window.describe() == "2020-01-01T00:00:00+00:00 .. now + 90 seconds"
    assert TimeWindow(EARLIEST, timedelta(minutes=1)).describe().endswith("now + 1 minute")
    (early, *_) = payloads("2019-12-31T23:59:59Z").values()
    assert refusal(early) is None and "now + 90 seconds" in str(refusal(early, window=window))
    (ahead, *_) = payloads(NOW + timedelta(seconds=91)).values()
    assert refusal(ahead) is None and refusal(ahead, window=window) is not None


def test_a_clock_near_the_end_of_time_does_not_overflow():
    (payload, *_) = payloads("2024-06-01T00:00:00Z").values()
    end = datetime.max.replace(tzinfo=UTC)
    assert refusal(payload, now=end) is not None  # now + ahead has no value: nothing fits


def test_settings_read_the_window_from_time_window_variables(monkeypatch):
    assert TimeWindowSettings().window() == DEFAULT_TIME_WINDOW
    monkeypatch.setenv("TIME_WINDOW_EARLIEST", "2000-01-01T00:00:00+08:00")
    monkeypatch.setenv("TIME_WINDOW_AHEAD_S", "60")
    assert TimeWindowSettings().window() == TimeWindow(
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=8))), timedelta(minutes=1)
    )


@pytest.mark.parametrize(("name", "value"), [("EARLIEST", "2000-01-01T00:00:00"), ("AHEAD_S", "-1")])
def test_settings_refuse_a_naive_earliest_or_a_negative_margin(monkeypatch, name, value):
    monkeypatch.setenv(f"TIME_WINDOW_{name}", value)
    with pytest.raises(ValueError, match=name.lower()):
        TimeWindowSettings()
