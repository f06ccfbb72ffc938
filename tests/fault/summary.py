"""The figures each fault scenario reports: what was sent, acknowledged, refused and counted."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.conftest import ROOT

ARTIFACT = ROOT / "var" / "test-artifacts" / "fault-summary.json"


@dataclass
class Summary:
    """One scenario's run; `difference` (API count minus the ledger's recompute) must be 0."""

    scenario: str
    fault: str = ""
    outcome: str = "not finished"
    posted: int = 0
    acknowledged: int = 0
    rejected_503: int = 0
    connection_errors: int = 0
    duplicates_acknowledged: int = 0
    voided: int = 0
    other_statuses: dict[str, int] = field(default_factory=dict)
    counted: int | None = None
    expected: int | None = None
    difference: int | None = None
    fault_seconds: float | None = None
    converged_after_fault_s: float | None = None
    converged_after_last_ack_s: float | None = None
    notes: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        conv = (
            "never"
            if self.converged_after_fault_s is None
            else f"{self.converged_after_fault_s:.1f}s after the fault "
            f"({self.converged_after_last_ack_s:.1f}s after the last acknowledgement)"
        )
        return (
            f"{self.scenario}: {self.outcome}; posted {self.posted}, acknowledged {self.acknowledged}, "
            f"503 {self.rejected_503}, no answer {self.connection_errors}, "
            f"duplicates {self.duplicates_acknowledged}, "
            f"voided {self.voided}, counted {self.counted}, expected {self.expected}, "
            f"difference {self.difference}; converged {conv}" + (f"; {self.notes}" if self.notes else "")
        )


def write(summaries: list[Summary], path: Path = ARTIFACT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in summaries], indent=2, ensure_ascii=False) + "\n")
