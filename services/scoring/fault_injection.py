"""A test-only hook that makes chosen records fail inside the running worker.

Off unless SCORING_WORKER_FAULT_INJECTION is set (the fault suite restarts a worker with it).
A record whose event id is `fault-<Error>-<stage>-<anything>` raises <Error> at <stage>: decode
(reading it), fold (applying it) or store (checking the ledger it is in before the write), so
tests can show that one record's failure is its own whatever it raises.
"""

from collections.abc import Iterable

from pymongo.errors import DocumentTooLarge

ERRORS: dict[str, type[Exception]] = {
    "OverflowError": OverflowError,
    "KeyError": KeyError,
    "DocumentTooLarge": DocumentTooLarge,
    "Exception": Exception,
}
STAGES = ("decode", "fold", "store")
PREFIX = "fault-"


class FaultInjection:
    """Raises the named error for marked ids at their stage; does nothing when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def check(self, stage: str, event_ids: Iterable[str]) -> None:
        if not self.enabled:
            return
        for event_id in event_ids:
            if event_id.startswith(PREFIX):
                _, error, at, *_ = [*event_id.split("-", 3), "", ""]
                if at == stage and error in ERRORS:
                    raise ERRORS[error](f"injected at {stage} for {event_id}")


NO_FAULTS = FaultInjection(enabled=False)
