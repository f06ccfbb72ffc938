"""HTTP routes of an intake service: single, batch and void, each a few lines over Intake."""

from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from shared.audit import audit
from shared.auth import AuthFirstRoute, RecordWriter, require_branch
from shared.contracts import ID_PATTERN, Contract
from shared.intake.accept import Intake, Outcome
from shared.intake.bodies import (
    EXAMPLE_ID,
    RESERVED,
    Accepted,
    BatchItemResult,
    BatchResponse,
    SenderId,
    VoidRequest,
    batch_model,
    submission_model,
)
from shared.intake.docs import VOID_EXAMPLE, batch_example, example_of, single
from shared.intake.pending import review_of
from shared.intake.receipts import Receipt
from shared.principal import Principal, Refused, check_member
from shared.problems import Problem, field_errors, problem_responses, title_of

RETRY_AFTER = {"Retry-After": "2"}
IdempotencyKey = Annotated[
    SenderId,
    Header(
        alias="Idempotency-Key",
        pattern=ID_PATTERN,
        description=f"The record's id, if not given in the body; a retry must send the same one. {RESERVED}",
        examples=[EXAMPLE_ID],
    ),
]
EventId = Annotated[
    str,
    Path(pattern=ID_PATTERN, description="The id the record was accepted under.", examples=[EXAMPLE_ID]),
]
WRITE_PROBLEMS = {
    401: "no or an unknown bearer token",
    403: "the token lacks the scope events:write, or the record's branch is outside its reach",
    413: "the body is over the size limit",
    422: "invalid fields, named one by one in `errors`",
    503: "Kafka or the database did not answer: retry after Retry-After seconds",
}


async def _check_reach(request: Request, who: Principal, branch_id: str, member_id: str | None) -> None:
    """403 unless the caller may write for `branch_id` (its court or branch) and, a member, as itself."""
    await require_branch(request, who, branch_id, writing=True)
    try:
        check_member(who, member_id)
    except Refused as err:
        raise Problem(403, "Forbidden", err.detail) from None


def _member_of(receipt: Receipt) -> str | None:
    data = orjson.loads(receipt.envelope).get("data", {})
    return data.get("member_id") if isinstance(data, dict) else None


def _answer(outcome: Outcome) -> Accepted:
    if outcome.status == 202:
        return Accepted(id=outcome.event_id or "", duplicate=outcome.duplicate)
    headers = RETRY_AFTER if outcome.status == 503 else None
    raise Problem(outcome.status, title_of(outcome.status), outcome.detail, outcome.errors or None, headers)


def _pick_id(body_id: str | None, header_id: str | None) -> str | None:
    if body_id and header_id and body_id != header_id:
        raise Problem(
            422,
            "Unprocessable Content",
            "body id and Idempotency-Key differ",
            [{"field": "id", "message": "must equal the Idempotency-Key header"}],
        )
    return body_id or header_id


def _batch_response(
    size: int, invalid: dict[int, BatchItemResult], done: list[tuple[int, Outcome]]
) -> JSONResponse:
    """One result per item, in order; 503 for the whole batch if any item could not reach Kafka."""
    results = dict(invalid)
    for i, o in done:
        results[i] = BatchItemResult(
            index=i, status=o.status, id=o.event_id, duplicate=o.duplicate, detail=o.detail, errors=o.errors
        )
    ordered = [results[i] for i in range(size)]
    accepted = sum(r.status == 202 for r in ordered)
    body = BatchResponse(accepted=accepted, rejected=size - accepted, results=ordered)
    # Retrying the whole batch is safe: what Kafka already has is answered as a duplicate.
    unavailable = any(r.status == 503 for r in ordered)
    return JSONResponse(
        body.model_dump(),
        status_code=503 if unavailable else 200,
        headers=RETRY_AFTER if unavailable else None,
    )


def _member_id(record: Contract) -> str | None:
    return getattr(record, "member_id", None)


def intake_router(
    resource: str,
    model: type[Contract],
    to_payload: Callable[[Contract], Contract] | None = None,
    acting_member: Callable[[Contract], str | None] = _member_id,
) -> APIRouter:
    """POST /v1/<resource>, /v1/<resource>:batch and /v1/<resource>/{id}:void for one record model.
    `to_payload` turns a checked body into what is published (a ballot's voter id into its hash);
    `acting_member` names the member a `member` token must be (by default the record's member)."""
    router = APIRouter(
        tags=[resource], responses=problem_responses(WRITE_PROBLEMS), route_class=AuthFirstRoute
    )
    body_model = submission_model(model)
    batch_body = batch_model(body_model)
    example = example_of(body_model)

    def intake(request: Request) -> Intake:
        return request.app.state.intake

    def record_of(body: Contract) -> Contract:
        return model.model_validate(body.model_dump(exclude={"id"}))

    def payload_of(record: Contract) -> Contract:
        return to_payload(record) if to_payload else record

    @router.post(
        f"/v1/{resource}",
        status_code=202,
        response_model=Accepted,
        summary=f"Submit one record ({model.__doc__})",
        responses=problem_responses({409: "this id was already used for different content"}),
    )
    async def submit(
        body: Annotated[body_model, Body(openapi_examples=single("one record", example))],  # type: ignore[valid-type]
        request: Request,
        who: RecordWriter,
        idempotency_key: IdempotencyKey = None,
    ) -> Accepted:
        event_id = _pick_id(body.id, idempotency_key)  # type: ignore[attr-defined]
        record = record_of(body)
        await _check_reach(request, who, record.branch_id, acting_member(record))  # type: ignore[attr-defined]
        pending = review_of(request, who)  # a member's or clerk's record counts once approved
        outcome = (await intake(request).submit_many([(payload_of(record), event_id)], pending))[0]  # type: ignore[list-item]
        return _answer(outcome)

    @router.post(
        f"/v1/{resource}:batch",
        response_model=BatchResponse,
        summary="Submit up to 500 records; one result per item",
        responses={503: {"model": BatchResponse, "description": "some items could not reach Kafka: retry"}},
    )
    async def submit_batch(
        body: Annotated[batch_body, Body(openapi_examples=single("two records", batch_example(example)))],  # type: ignore[valid-type]
        request: Request,
        who: RecordWriter,
    ) -> JSONResponse:
        items: list[dict] = body.items  # type: ignore[attr-defined]
        invalid: dict[int, BatchItemResult] = {}
        valid: list[tuple[int, Contract, str | None]] = []
        for i, item in enumerate(items):
            try:
                parsed = body_model.model_validate(item)
            except ValidationError as err:
                invalid[i] = BatchItemResult(
                    index=i, status=422, detail="invalid record", errors=field_errors(list(err.errors()))
                )
                continue
            record = record_of(parsed)
            try:
                await _check_reach(request, who, record.branch_id, acting_member(record))  # type: ignore[attr-defined]
            except Problem as err:
                if err.status != 403:
                    raise
                invalid[i] = BatchItemResult(index=i, status=403, detail=err.detail)
                continue
            valid.append((i, payload_of(record), parsed.id))  # type: ignore[attr-defined]
        pending = review_of(request, who)
        outcomes = await intake(request).submit_many([(r, eid) for _, r, eid in valid], pending)  # type: ignore[misc]
        return _batch_response(
            len(items), invalid, [(i, o) for (i, _r, _e), o in zip(valid, outcomes, strict=True)]
        )

    @router.post(
        f"/v1/{resource}/{{event_id}}:void",
        status_code=202,
        response_model=Accepted,
        summary="Void a record: it stops counting; nothing is deleted",
        responses=problem_responses({404: "no record with this id", 409: "this id is a void"}),
    )
    async def void(
        event_id: EventId,
        body: Annotated[VoidRequest, Body(openapi_examples=single("a correction", VOID_EXAMPLE))],
        request: Request,
        who: RecordWriter,
    ) -> Accepted:
        async def allowed(receipt: Receipt) -> None:
            await _check_reach(request, who, receipt.branch_id, _member_of(receipt))
            await audit(request, who, "record.void", event_id, branch=receipt.branch_id)  # before the change

        return _answer(await intake(request).void(event_id, body.reason, allowed))

    return router
