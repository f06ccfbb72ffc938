"""The review queue as the scoring API holds it: every record submitted for review (审核), with
its latest decision, its voiding and its evidence, folded from the intake topics.

Why an in-memory view fed from the topics, and not the intake services' receipts in MongoDB: the
receipts are keyed by record id only, and FerretDB answers any other filter (a branch, a status)
by scanning the whole collection, hundreds of thousands of receipts for a demo year. The topics
already carry every submission, decision, void and evidence event in order, keyed by branch; this
process reads them from the beginning (as it reads the audit trail), keeps only what concerns
records submitted for review (a byte search skips every other record undecoded), and answers
from memory. A process started later catches up from the log, so nothing needs writing twice.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts import ContractError
from shared.fast_contracts import EvidenceAttached, RecordReviewed, RecordVoided, decode_event

REVIEW_MARK = b'"review":"required"'
OTHER_MARKS = (b".reviewed.v1", b".evidenced.v1", b".voided.v1")
STATUSES = ("pending", "approved", "declined", "voided")


@dataclass
class Evidence:
    sha256: str
    media_type: str
    size: int


@dataclass
class Submission:
    """A record submitted for review and what became of it."""

    event_id: str
    stream: str
    branch_id: str
    member_id: str
    kind: str
    occurred_at: datetime
    submitted_at: datetime
    data: dict[str, Any]
    decided_at: datetime | None = None
    decision_id: str = ""
    approved: bool | None = None
    reason: str | None = None
    voided: bool = False
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.voided:
            return "voided"
        return "pending" if self.approved is None else "approved" if self.approved else "declined"


@dataclass
class _Decision:
    at: datetime
    decision_id: str
    approved: bool
    reason: str


class SubmissionView:
    """Submissions by (stream, record id); decisions, voids and evidence that come before their
    record (a direct producer's order) wait for it."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Submission] = {}
        self._decisions: dict[tuple[str, str], _Decision] = {}
        self._voided: set[tuple[str, str]] = set()
        self._evidence: dict[tuple[str, str], list[Evidence]] = {}

    def add(self, raw: bytes) -> None:
        """Take one record from an intake topic (anything unrelated to review is skipped)."""
        if REVIEW_MARK not in raw and not any(mark in raw for mark in OTHER_MARKS):
            return
        try:
            event = decode_event(raw)
        except ContractError:
            return  # the worker dead-letters it; it is nobody's submission
        stream, p, env = event.event_type.stream.value, event.payload, event.envelope
        if isinstance(p, RecordVoided | RecordReviewed | EvidenceAttached):
            key = (stream, p.event_id)
            self._note(key, p, env.time, env.id)
        elif env.review == "required":
            key = (stream, env.id)
            if key not in self.items:
                kind = getattr(p, "kind", None)
                member = str(getattr(p, "member_id", ""))
                self.items[key] = Submission(
                    env.id, stream, p.branch_id, member, kind.value if kind is not None else "",
                    p.occurred_at, env.time, event.data(),
                )  # fmt: skip
        else:
            return
        if (item := self.items.get(key)) is not None:
            self._settle(key, item)

    def _note(
        self,
        key: tuple[str, str],
        p: RecordVoided | RecordReviewed | EvidenceAttached,
        at: datetime,
        eid: str,
    ) -> None:
        """Keep a void, the latest decision (by its time, ties by its id) or a file's hash."""
        if isinstance(p, RecordVoided):
            self._voided.add(key)
        elif isinstance(p, RecordReviewed):
            decision = _Decision(at, eid, p.decision.value == "approved", p.reason)
            held = self._decisions.get(key)
            if held is None or (decision.at, decision.decision_id) > (held.at, held.decision_id):
                self._decisions[key] = decision
        else:
            files = self._evidence.setdefault(key, [])
            if all(f.sha256 != p.sha256 for f in files):
                files.append(Evidence(p.sha256, p.media_type, p.size))

    def _settle(self, key: tuple[str, str], item: Submission) -> None:
        item.voided = key in self._voided
        item.evidence = self._evidence.get(key, [])
        if (d := self._decisions.get(key)) is not None:
            item.decided_at, item.decision_id, item.approved = d.at, d.decision_id, d.approved
            item.reason = d.reason

    def pending(self) -> list[Submission]:
        return [s for s in self.items.values() if s.status == "pending"]
