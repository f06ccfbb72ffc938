"""Request and response bodies of the intake routes, documented for the OpenAPI document."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from shared.contracts import RESERVED_ID_PREFIX, Contract, Id, Reason
from shared.intake.docs import VOID_EXAMPLE, batch_example, example_of

MAX_BATCH = 500
EXAMPLE_ID = "hr-sys-000123"
RESERVED = f"Ids starting with `{RESERVED_ID_PREFIX}` are reserved for the ids the service derives."


def _not_reserved(value: str | None) -> str | None:
    if value is not None and value.startswith(RESERVED_ID_PREFIX):
        reason = "reserved for the ids the service derives"
        raise ValueError(f"must not start with {RESERVED_ID_PREFIX!r}: {reason}")
    return value


# The id a sender may choose: any id outside the reserved namespace.
SenderId = Annotated[Id | None, AfterValidator(_not_reserved)]


class Accepted(BaseModel):
    """The record is on Kafka (or was already): keep the id to void it later."""

    id: str = Field(description="the id the record was accepted under", examples=[EXAMPLE_ID])
    status: str = "accepted"
    duplicate: bool = Field(description="true when this id was accepted before with the same content")


class VoidRequest(Contract):
    """Why a record stops counting."""

    reason: Reason = Field(
        description="Why the record is voided; kept with the correction.",
        examples=[VOID_EXAMPLE["reason"]],
    )


class BatchRequest(BaseModel):
    """Up to 500 records; each is validated on its own and gets its own result."""

    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


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


def submission_model(record: type[Contract]) -> type[Contract]:
    """The record model plus the sender's optional id: the body of a single post."""
    return create_model(
        f"{record.__name__}Submission",
        __base__=record,
        __doc__=f"{record.__doc__} Send `id` (or the Idempotency-Key header) so a retry is recognised.",
        id=(
            SenderId,
            Field(
                None,
                description="The sender's id for this record, the idempotency key: a retry with the same "
                "id and content is acknowledged again and counted once. Without one the id is derived "
                f"from the content. {RESERVED}",
                examples=[EXAMPLE_ID],
            ),
        ),
    )


def batch_model(submission: type[Contract]) -> type[BatchRequest]:
    """BatchRequest for one record model: its items documented as that model, with an example."""
    return create_model(
        f"{submission.__name__}Batch",
        __base__=BatchRequest,
        items=(
            list[dict[str, Any]],
            Field(
                min_length=1,
                max_length=MAX_BATCH,
                description=f"Up to {MAX_BATCH} records, each as for a single post (an invalid one "
                "is answered in its result and does not hold up the others).",
                examples=[batch_example(example_of(submission))["items"]],
                json_schema_extra={"items": {"$ref": f"#/components/schemas/{submission.__name__}"}},
            ),
        ),
    )
