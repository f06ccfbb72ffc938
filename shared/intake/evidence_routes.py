"""POST /v1/<resource>/{id}/evidence attaches a file of evidence (佐证材料) to a record; GET
/v1/<resource>/{id}/evidence/{sha256} reads it back, for the record's reviewers only. The file's
SHA-256 travels on the record's topic (an EvidenceAttached event, with the record's own time)."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from shared.audit import audit
from shared.auth import AuthFirstRoute, RecordWriter
from shared.contracts import EVIDENCE_MAX_BYTES, RESERVED_ID_PREFIX, SHA256_PATTERN, EvidenceAttached
from shared.intake.evidence_store import MAX_FILES, EvidenceFile, MongoEvidenceStore, TooMany
from shared.intake.receipts import Receipt
from shared.intake.review_routes import found_record, require_reviewer
from shared.intake.routes import RETRY_AFTER, EventId, _answer, _check_reach, _member_of
from shared.problems import Problem, problem_responses

# What a file's first bytes say it is; the declared content type is not believed.
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
Sha256 = Annotated[str, Path(pattern=SHA256_PATTERN, description="The file's SHA-256, hex.")]
BINARY = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": f"The file itself (JPEG, PNG or PDF, judged by its content), at most "
        f"{EVIDENCE_MAX_BYTES} bytes; at most {MAX_FILES} files per record.",
        "content": {
            t: BINARY for t in ("image/jpeg", "image/png", "application/pdf", "application/octet-stream")
        },
    }
}


class EvidenceAccepted(BaseModel):
    """The file is stored and its hash on the record's topic."""

    id: str  # the evidence event's id
    sha256: str
    media_type: str
    size: int
    duplicate: bool


def media_type_of(content: bytes) -> str | None:
    """The file's type by its magic bytes, or None for anything but JPEG, PNG and PDF."""
    return next((kind for magic, kind in MAGIC if content.startswith(magic)), None)


def _store(request: Request) -> MongoEvidenceStore:
    return request.app.state.evidence


def _key(request: Request, event_id: str) -> str:
    return f"{request.app.state.intake.stream.value}:{event_id}"


def evidence_router(resource: str) -> APIRouter:
    """The evidence routes of one intake service."""
    router = APIRouter(tags=[resource], route_class=AuthFirstRoute)

    @router.post(
        f"/v1/{resource}/{{event_id}}/evidence",
        status_code=202,
        response_model=EvidenceAccepted,
        summary="Attach a file of evidence (佐证材料: JPEG, PNG or PDF) to a record",
        openapi_extra=UPLOAD_BODY,
        responses=problem_responses(
            {
                404: "no record with this id",
                409: f"the record holds {MAX_FILES} files already, or the id is not a record",
                413: f"the file is over {EVIDENCE_MAX_BYTES} bytes",
                415: "the content is not a JPEG, PNG or PDF",
            }
        ),
    )
    async def attach(event_id: EventId, request: Request, who: RecordWriter) -> EvidenceAccepted:
        receipt = await found_record(request.app.state.intake, event_id)
        await _check_reach(request, who, receipt.branch_id, _member_of(receipt))
        content = await request.body()
        if len(content) > EVIDENCE_MAX_BYTES:
            raise Problem(413, "Content Too Large", f"a file is at most {EVIDENCE_MAX_BYTES} bytes")
        media_type = media_type_of(content)
        if media_type is None:
            detail = "evidence must be a JPEG, PNG or PDF file (judged by its content, not its name or type)"
            raise Problem(415, "Unsupported Media Type", detail)
        file = EvidenceFile(hashlib.sha256(content).hexdigest(), media_type, len(content))

        async def audited() -> None:
            await audit(request, who, "evidence.attach", event_id, branch=receipt.branch_id)

        try:
            await _store(request).put(file, content)
            added = await _store(request).attach(_key(request, event_id), file, audited)
        except TooMany as err:
            raise Problem(409, "Conflict", str(err)) from None
        except PyMongoError:
            raise Problem(503, "Service Unavailable", "database unavailable", headers=RETRY_AFTER) from None
        outcome = await _publish(request, receipt, event_id, file)
        return EvidenceAccepted(
            id=outcome, sha256=file.sha256, media_type=media_type, size=file.size, duplicate=not added
        )

    @router.get(
        f"/v1/{resource}/{{event_id}}/evidence/{{sha256}}",
        summary="Read a file of evidence (its record's branch secretary, or an admin of its court)",
        responses={
            **problem_responses({404: "no such record, or no such file attached to it"}),
            200: {"content": {t: BINARY for t in ("image/jpeg", "image/png", "application/pdf")}},
        },
    )
    async def read(event_id: EventId, sha256: Sha256, request: Request, who: RecordWriter) -> Response:
        receipt = await found_record(request.app.state.intake, event_id)
        await require_reviewer(request, who, receipt.branch_id)
        try:
            listed = await _store(request).listed(_key(request, event_id))
            found = await _store(request).get(sha256) if any(f.sha256 == sha256 for f in listed) else None
        except PyMongoError:
            raise Problem(503, "Service Unavailable", "database unavailable", headers=RETRY_AFTER) from None
        if found is None:
            raise Problem(404, "Not Found", "no such file attached to this record")
        media_type, content = found
        headers = {
            "Content-Disposition": f'attachment; filename="{sha256[:16]}{_suffix(media_type)}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return Response(content, media_type=media_type, headers=headers)

    return router


def _suffix(media_type: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png"}.get(media_type, ".pdf")


async def _publish(request: Request, receipt: Receipt, event_id: str, file: EvidenceFile) -> str:
    """The evidence event on the record's topic (its id derived: a repeated upload is a duplicate)."""
    payload = EvidenceAttached(
        event_id=event_id,
        branch_id=receipt.branch_id,
        record_occurred_at=receipt.occurred_at,
        sha256=file.sha256,
        media_type=file.media_type,  # type: ignore[arg-type]
        size=file.size,
    )
    digest = hashlib.sha256(f"{event_id}\n{file.sha256}".encode()).hexdigest()[:40]
    outcome = (await request.app.state.intake.submit_many([(payload, f"{RESERVED_ID_PREFIX}ev-{digest}")]))[0]
    return _answer(outcome).id
