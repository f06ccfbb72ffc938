"""POST /v1/<resource>/{id}:approve and :decline: a reviewer's decision (审核) on a record submitted
for review, published on the record's topic with the record's own time (as a void is), so a
rescore reproduces every decision in its period."""

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Request
from pymongo.errors import PyMongoError

from shared.audit import audit
from shared.auth import AuthFirstRoute, RecordWriter, branch_court, forbidden
from shared.contracts import RESERVED_ID_PREFIX, Decision, RecordReviewed
from shared.intake.accept import Intake, Outcome, void_id
from shared.intake.bodies import Accepted, VoidRequest
from shared.intake.docs import single
from shared.intake.receipts import Receipt
from shared.intake.routes import RETRY_AFTER, EventId, _answer
from shared.principal import Principal, Refused
from shared.problems import Problem, problem_responses
from shared.review import check_reviewer

DECISION_EXAMPLE = {"reason": "照片与签到表齐全 photos and sign-in sheet attached"}
DECISION_PROBLEMS = {
    404: "no record with this id",
    409: "not a record submitted for review, or it was voided",
}


def envelope_of(receipt: Receipt) -> dict:
    doc = orjson.loads(receipt.envelope)
    return doc if isinstance(doc, dict) else {}


def is_record(receipt: Receipt, intake: Intake) -> bool:
    """Whether the receipt is a record of the stream (not a void, a decision or evidence)."""
    kind = str(envelope_of(receipt).get("type", ""))
    return kind.rsplit(".", 2)[-2] not in ("voided", "reviewed", "evidenced")


async def found_record(intake: Intake, event_id: str) -> Receipt:
    """The record's receipt, or the problem that says why there is none to act on."""
    try:
        receipt = await intake.find(event_id)
    except PyMongoError:
        raise Problem(503, "Service Unavailable", "database unavailable", headers=RETRY_AFTER) from None
    if receipt is None:
        raise Problem(404, "Not Found", f"no {intake.stream.value} record with this id")
    if not is_record(receipt, intake):
        raise Problem(409, "Conflict", "this id is not a record (a void, a decision or evidence)")
    return receipt


async def require_reviewer(request: Request, who: Principal, branch_id: str) -> None:
    """403 unless `who` reviews the branch's records (shared/review.check_reviewer)."""
    try:
        check_reviewer(who, branch_id, await branch_court(request, branch_id))
    except Refused as err:
        raise forbidden(err) from None


async def decide(request: Request, who: Principal, event_id: str, decision: Decision, reason: str) -> Outcome:
    """Check and publish one decision: 404, 403, 409 (needs no review, or voided) or 202."""
    intake: Intake = request.app.state.intake
    receipt = await found_record(intake, event_id)
    await require_reviewer(request, who, receipt.branch_id)
    if envelope_of(receipt).get("review") != "required":
        raise Problem(409, "Conflict", "this record was not submitted for review: it counts as it is")
    try:
        voided = await intake.find(void_id(event_id))
    except PyMongoError:
        raise Problem(503, "Service Unavailable", "database unavailable", headers=RETRY_AFTER) from None
    if voided is not None:
        raise Problem(409, "Conflict", "this record was voided: it cannot be decided on")
    action = "record.approve" if decision is Decision.APPROVED else "record.decline"
    await audit(request, who, action, event_id, branch=receipt.branch_id)  # before the change
    payload = RecordReviewed(
        event_id=event_id,
        branch_id=receipt.branch_id,
        record_occurred_at=receipt.occurred_at,
        decision=decision,
        reason=reason,
    )
    # Every decision is an event of its own: the latest one (by its time) counts.
    decision_id = f"{RESERVED_ID_PREFIX}review-{uuid.uuid4().hex}"
    return (await intake.submit_many([(payload, decision_id)]))[0]


def _endpoint(decision: Decision):  # type: ignore[no-untyped-def]
    """The route function for one decision (FastAPI sees only its HTTP parameters)."""

    async def endpoint(
        event_id: EventId,
        body: Annotated[VoidRequest, Body(openapi_examples=single("a decision", DECISION_EXAMPLE))],
        request: Request,
        who: RecordWriter,
    ) -> Accepted:
        return _answer(await decide(request, who, event_id, decision, body.reason))

    return endpoint


def review_router(resource: str) -> APIRouter:
    """POST /v1/<resource>/{id}:approve and :decline (body: the reason, as for a void)."""
    router = APIRouter(tags=[resource], route_class=AuthFirstRoute)
    for verb, decision, term in (
        ("approve", Decision.APPROVED, "审核通过"),
        ("decline", Decision.DECLINED, "审核不通过"),
    ):
        router.add_api_route(
            f"/v1/{resource}/{{event_id}}:{verb}",
            _endpoint(decision),
            methods=["POST"],
            status_code=202,
            response_model=Accepted,
            summary=f"{verb.capitalize()} a record submitted for review ({term}); "
            "the reviewer is the branch's secretary or an admin of its court",
            responses=problem_responses(DECISION_PROBLEMS),
        )
    return router
