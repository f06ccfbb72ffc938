"""The yearly examination's intake (政治素质考察): democratic-evaluation ballots, whose voter is
kept only as a salted hash made here, before anything is published, and appraisals."""

import hashlib
import hmac
from typing import Annotated

from pydantic import Field, SecretStr

from shared.contracts import (
    BranchId,
    Contract,
    EvaluationLevel,
    MemberEvaluated,
    MemberId,
    Year,
    describe_values,
)
from shared.problems import Problem


class EvaluationBallot(Contract):
    """A democratic-evaluation ballot (民主评议): one voter's rating of one member for a year; a
    later ballot of the same voter for the same member and year supersedes the earlier."""

    voter_id: Annotated[
        MemberId,
        Field(
            description="The member who votes. Kept only as a salted hash (HMAC-SHA256): the raw id "
            "never reaches Kafka, the receipts or the logs.",
            examples=["m-002"],
        ),
    ]
    member_id: Annotated[MemberId, Field(description="The member (党员) the ballot rates.")]
    branch_id: BranchId
    year: Year = Field(description="The assessment year (考核年度) the ballot belongs to.")
    level: EvaluationLevel = Field(
        description=describe_values("The voter's rating (民主评议等次):", EvaluationLevel), examples=["good"]
    )


def voter_hash(salt: bytes, voter_id: str) -> str:
    """The voter's id as it travels: HMAC-SHA256 under the service's secret, in hex."""
    return hmac.new(salt, voter_id.encode(), hashlib.sha256).hexdigest()


def ballot_hasher(salt: SecretStr | None):  # type: ignore[no-untyped-def]
    """The intake route's `to_payload` for ballots: 503 while no secret is configured (a ballot is
    never published with a raw or an unsalted voter id)."""

    def to_payload(body: Contract) -> Contract:
        if salt is None or not salt.get_secret_value():
            detail = "ballots are not taken: TRAINING_VOTER_SALT is not configured"
            raise Problem(503, "Service Unavailable", detail)
        ballot = EvaluationBallot.model_validate(body.model_dump())
        return MemberEvaluated(
            voter_hash=voter_hash(salt.get_secret_value().encode(), ballot.voter_id),
            member_id=ballot.member_id,
            branch_id=ballot.branch_id,
            year=ballot.year,
            level=ballot.level,
        )

    return to_payload


def voter_of(body: Contract) -> str | None:
    """A member's own token casts only its own ballot (about any member of its branch)."""
    return getattr(body, "voter_id", None)
