"""The bodies and answers of closing the year (finalisations and appeals)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.scoring.core import finalisation as rules
from services.scoring.core.finalisation import Finalised
from shared.contracts import Contract, Id, Reason

COURT = r"^[A-Za-z0-9][A-Za-z0-9_:\-]{0,99}$"  # a court id short enough for "court:year" targets
YEAR = r"^[0-9]{4}$"
Year = Annotated[str, Field(pattern=YEAR, examples=["2024"])]
CourtId = Annotated[str, Field(pattern=COURT, examples=["cz-zy"])]


class FinaliseIn(Contract):
    year: Year
    court: CourtId


class Frozen(BaseModel):
    kind: Literal["frozen"] = Field(
        default="frozen", description="frozen: a version that nothing moves any more"
    )
    version: int
    time: datetime
    actor: str = Field(description="who finalised it (a token's name or oidc:<sub>)")
    rulebook_version: str
    appeals_until: datetime = Field(description="appeals are taken before this moment (Asia/Shanghai days)")
    sections: list[str] = Field(description="the sections this version froze")
    content: dict[str, list[dict[str, Any]]]


class Live(BaseModel):
    kind: Literal["live"] = Field(
        default="live", description="live: today's computation, moving with every record"
    )
    as_of: datetime
    rulebook_version: str
    sections: list[str]
    content: dict[str, list[dict[str, Any]]]
    changes_since_latest: dict[str, dict[str, list]] | None = Field(description="null: nothing finalised yet")


class Finalisations(BaseModel):
    court: str
    year: str
    versions: list[Frozen] = Field(description="oldest first")
    appeal_window_open: bool
    live: Live | None


class VersionOut(Frozen):
    court: str
    year: str
    changes_from_previous: dict[str, dict[str, list]] | None = Field(description="null for version 1")


class DiffOut(BaseModel):
    court: str
    year: str
    version: int
    against: int
    changes: dict[str, dict[str, list]] = Field(description="per section: added, removed, changed")


class Target(Contract):
    member_id: Id | None = None
    branch_id: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> "Target":
        if (self.member_id is None) == (self.branch_id is None):
            raise ValueError("name exactly one of member_id and branch_id")
        return self


class AppealIn(Contract):
    year: Year
    court: CourtId
    target: Target
    reason: Reason


class DecisionIn(Contract):
    decision: Literal["upheld", "dismissed"]
    reason: Reason


class AppealOut(BaseModel):
    appeal_id: str
    court: str
    year: str
    version: int = Field(description="the version appealed against")
    target: dict[str, str]
    filed_at: datetime
    filed_by: str
    reason: str | None = Field(description="admins only")
    status: Literal["open", "upheld", "dismissed"]
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = Field(None, description="admins only")


def frozen_fields(v: Finalised) -> dict[str, Any]:
    return {
        "version": v.version,
        "time": v.time,
        "actor": v.actor,
        "rulebook_version": v.rulebook_version,
        "appeals_until": v.appeals_until,
        "sections": list(v.sections),
        "content": v.sections,
    }


def appeal_out(appeal: rules.Appeal, admin: bool) -> AppealOut:
    f, d = appeal.filed, appeal.decided
    return AppealOut(
        appeal_id=f.appeal_id,
        court=f.court,
        year=f.year,
        version=f.version,
        target={f"{f.target}_id": f.target_id},
        filed_at=f.time,
        filed_by=f.actor,
        reason=f.reason if admin else None,
        status=d.decision if d else "open",
        decided_at=d.time if d else None,
        decided_by=d.actor if d else None,
        decision_reason=d.reason if d and admin else None,
    )
