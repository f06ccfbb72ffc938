"""HTTP routes of an intake service: single, batch and void, each a few lines over Intake."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from shared.auth import Writer
from shared.contracts import ID_PATTERN, Contract, Id
from shared.intake.accept import Intake, Outcome
from shared.problems import Problem, field_errors

MAX_BATCH = 500
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=ID_PATTERN,
        description="The record's id, if not given in the body; a retry must send the same one.",
    ),
]


class Accepted(BaseModel):
    """The record is on Kafka (or was already): keep the id to void it later."""

    id: str
    status: str = "accepted"
    duplicate: bool = Field(description="true when this id was accepted before with the same content")


class VoidRequest(Contract):
    reason: Annotated[str, Field(min_length=1, max_length=500, examples=["entered twice by mistake"])]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"up to {MAX_BATCH} records, each as for a single post",
    )


class BatchItemResult(BaseModel):
    index: int
    status: int
    id: str | None = None
    duplicate: bool = False
    detail: str
    errors: list[dict] = []


class BatchResponse(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemResult]


def _answer(outcome: Outcome) -> Accepted:
    if outcome.status == 202:
        return Accepted(id=outcome.event_id or "", duplicate=outcome.duplicate)
    headers = {"Retry-After": "2"} if outcome.status == 503 else None
    titles = {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content", 503: "Service Unavailable"}
    raise Problem(outcome.status, titles[outcome.status], outcome.detail, outcome.errors or None, headers)


def _pick_id(body_id: str | None, header_id: str | None) -> str | None:
    if body_id and header_id and body_id != header_id:
        raise Problem(
            422,
            "Unprocessable Content",
            "body id and Idempotency-Key differ",
            [{"field": "id", "message": "must equal the Idempotency-Key header"}],
        )
    return body_id or header_id


def intake_router(resource: str, model: type[Contract]) -> APIRouter:
    """POST /v1/<resource>, /v1/<resource>:batch and /v1/<resource>/{id}:void for one record model."""
    router = APIRouter(tags=[resource])
    body_model: type[Contract] = create_model(  # the record plus the sender's optional id
        f"{model.__name__}Submission",
        __base__=model,
        id=(Id | None, Field(None, description="the sender's id for this record (idempotency key)")),
    )

    def intake(request: Request) -> Intake:
        return request.app.state.intake

    def record_of(body: Contract) -> Contract:
        return model.model_validate(body.model_dump(exclude={"id"}))

    @router.post(
        f"/v1/{resource}",
        status_code=202,
        response_model=Accepted,
        summary=f"Submit one record ({model.__doc__})",
    )
    async def submit(
        body: body_model,  # type: ignore[valid-type]
        request: Request,
        _: Writer,
        idempotency_key: IdempotencyKey = None,
    ) -> Accepted:
        event_id = _pick_id(body.id, idempotency_key)  # type: ignore[attr-defined]
        outcome = (await intake(request).submit_many([(record_of(body), event_id)]))[0]  # type: ignore[list-item]
        return _answer(outcome)

    @router.post(
        f"/v1/{resource}:batch",
        response_model=BatchResponse,
        summary="Submit up to 500 records; one result per item",
    )
    async def submit_batch(body: BatchRequest, request: Request, _: Writer) -> JSONResponse:
        results: list[BatchItemResult | None] = [None] * len(body.items)
        valid: list[tuple[int, Contract, str | None]] = []
        for i, item in enumerate(body.items):
            try:
                parsed = body_model.model_validate(item)
            except ValidationError as err:
                results[i] = BatchItemResult(
                    index=i, status=422, detail="invalid record", errors=field_errors(list(err.errors()))
                )
                continue
            valid.append((i, record_of(parsed), parsed.id))  # type: ignore[attr-defined]
        outcomes = await intake(request).submit_many([(r, eid) for _, r, eid in valid])  # type: ignore[misc]
        for (i, _r, _e), o in zip(valid, outcomes, strict=True):
            results[i] = BatchItemResult(
                index=i,
                status=o.status,
                id=o.event_id,
                duplicate=o.duplicate,
                detail=o.detail,
                errors=o.errors,
            )
        done = [r for r in results if r is not None]
        accepted = sum(r.status == 202 for r in done)
        response = BatchResponse(accepted=accepted, rejected=len(done) - accepted, results=done)
        # 503 for the whole batch when anything failed only because of the broker: retry it all.
        status = 503 if any(r.status == 503 for r in done) else 200
        return JSONResponse(
            response.model_dump(), status_code=status, headers={"Retry-After": "2"} if status == 503 else None
        )

    @router.post(
        f"/v1/{resource}/{{event_id}}:void",
        status_code=202,
        response_model=Accepted,
        summary="Void a record: it stops counting; nothing is deleted",
    )
    async def void(
        event_id: Annotated[str, Path(pattern=ID_PATTERN)], body: VoidRequest, request: Request, _: Writer
    ) -> Accepted:
        return _answer(await intake(request).void(event_id, body.reason))

    return router
