"""The review page's way to the intake services (its CSP lets it talk to this server only):
POST /v1/submissions/{resource}/{id}:approve and :decline, GET .../{id}/evidence/{sha256},
forwarded with the caller's token to the intake service that holds the record, which checks,
audits and answers them (shared/intake/review_routes.py, evidence_routes.py)."""

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Body, Path, Request, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import AuthFirstRoute, RecordWriter
from shared.contracts import ID_PATTERN, SHA256_PATTERN
from shared.intake.bodies import VoidRequest
from shared.problems import Problem, problem_responses

Resource = Literal["deployments", "contacts", "completions"]
EventId = Annotated[str, Path(pattern=ID_PATTERN, examples=["hr-sys-000123"])]
Sha256 = Annotated[str, Path(pattern=SHA256_PATTERN)]
PASSED = ("content-type", "content-disposition", "x-content-type-options", "cache-control", "retry-after")


class IntakeLinks(BaseSettings):
    """Where the intake services listen: the ports every process of a stack is told (VOLUNTEER_PORT,
    LIAISON_PORT, TRAINING_PORT) on INTAKE_HOST."""

    model_config = SettingsConfigDict(extra="ignore")

    intake_host: str = "127.0.0.1"
    volunteer_port: int = 8001
    liaison_port: int = 8002
    training_port: int = 8003

    def url(self, resource: str) -> str:
        port = {"deployments": self.volunteer_port, "contacts": self.liaison_port}.get(
            resource, self.training_port
        )
        return f"http://{self.intake_host}:{port}"


async def _forward(request: Request, method: str, url: str, json: dict | None = None) -> Response:
    headers = {k: v for k, v in request.headers.items() if k in ("authorization", "x-request-id")}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(method, url, headers=headers, json=json)
    except httpx.HTTPError:
        raise Problem(
            503, "Service Unavailable", "the intake service did not answer", headers={"Retry-After": "2"}
        ) from None
    kept = {k: v for k, v in answer.headers.items() if k in PASSED}
    return Response(answer.content, status_code=answer.status_code, headers=kept)


def review_proxy_router(links: IntakeLinks | None = None) -> APIRouter:
    """The forwarding routes (the intake service decides; these only pass the request on)."""
    links = links or IntakeLinks()
    router = APIRouter(tags=["review"], route_class=AuthFirstRoute)
    refusals = problem_responses({404: "no such record or file", 409: "not pending review, or voided"})

    for verb in ("approve", "decline"):

        def endpoint(verb: str = verb):  # type: ignore[no-untyped-def]
            async def decide(
                resource: Resource,
                event_id: EventId,
                body: Annotated[VoidRequest, Body()],
                request: Request,
                _: RecordWriter,
            ) -> Response:
                url = f"{links.url(resource)}/v1/{resource}/{event_id}:{verb}"
                return await _forward(request, "POST", url, {"reason": body.reason})

            return decide

        router.add_api_route(
            f"/v1/submissions/{{resource}}/{{event_id}}:{verb}",
            endpoint(),
            methods=["POST"],
            status_code=202,
            summary=f"{verb.capitalize()} a submitted record (审核), through its intake service",
            responses=refusals,
        )

    @router.get(
        "/v1/submissions/{resource}/{event_id}/evidence/{sha256}",
        summary="Read a file of evidence (佐证材料), through its intake service",
        responses=refusals,
    )
    async def evidence(
        resource: Resource, event_id: EventId, sha256: Sha256, request: Request, _: RecordWriter
    ) -> Response:
        return await _forward(
            request, "GET", f"{links.url(resource)}/v1/{resource}/{event_id}/evidence/{sha256}"
        )

    return router
