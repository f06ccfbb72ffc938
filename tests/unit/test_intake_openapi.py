"""The intake services' OpenAPI documents: every request field described with an example, every
kind shown with its Chinese term, and a valid example body on every write route."""

import pytest
from fastapi.testclient import TestClient

from services.liaison.app import create_app as liaison_app
from services.training.app import create_app as training_app
from services.training.examination import EvaluationBallot
from services.volunteer.app import create_app as volunteer_app
from shared.contracts import (
    TERMS,
    Channel,
    ContactKind,
    DeploymentKind,
    EvaluationLevel,
    LiaisonContactMade,
    MemberAppraised,
    Performance,
    TrainingCompleted,
    TrainingKind,
    VolunteerDeployed,
)
from shared.intake.bodies import VoidRequest

SERVICES = {
    "deployments": (volunteer_app, VolunteerDeployed, {"kind": DeploymentKind}),
    "contacts": (liaison_app, LiaisonContactMade, {"kind": ContactKind, "channel": Channel}),
    "completions": (training_app, TrainingCompleted, {"kind": TrainingKind}),
    "evaluations": (training_app, EvaluationBallot, {"level": EvaluationLevel}),
    "appraisals": (training_app, MemberAppraised, {"performance": Performance}),
}


@pytest.fixture(scope="module", params=list(SERVICES))
def doc(request) -> tuple[str, dict]:
    """(resource, the /openapi.json the service serves); no lifespan, so no broker is needed."""
    create_app = SERVICES[request.param][0]
    r = TestClient(create_app()).get("/openapi.json")
    assert r.status_code == 200
    return request.param, r.json()


def resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    name = ref.rsplit("/", 1)[1]
    assert name in spec["components"]["schemas"], f"dangling $ref {ref}"
    return spec["components"]["schemas"][name]


def objects(spec: dict, schema: dict, seen: set[str]) -> list[tuple[str, dict]]:
    """Every object schema reachable from `schema` (nested models, array items, anyOf), by title."""
    schema = resolve(spec, schema)
    title = schema.get("title", "?")
    found = []
    if "properties" in schema and title not in seen:
        seen.add(title)
        found.append((title, schema))
        for prop in schema["properties"].values():
            found += objects(spec, prop, seen)
    for key in ("anyOf", "allOf", "oneOf"):
        for part in schema.get(key, []):
            found += objects(spec, part, seen)
    if "items" in schema:
        found += objects(spec, schema["items"], seen)
    return found


REVIEWED = ("deployments", "contacts", "completions")  # each service's own stream's records


def request_bodies(spec: dict, resource: str) -> dict[str, dict]:
    """path -> the application/json request body of its POST, for one resource of the service
    (evidence is posted as the file itself: not JSON)."""
    return {
        path: op["post"]["requestBody"]["content"]["application/json"]
        for path, op in spec["paths"].items()
        if "post" in op
        and (path == f"/v1/{resource}" or path.startswith((f"/v1/{resource}:", f"/v1/{resource}/")))
        and "application/json" in op["post"]["requestBody"]["content"]
    }


def test_the_json_write_routes_of_each_resource(doc):
    resource, spec = doc
    # A stream's records are reviewed (审核) by :approve and :decline, a reason each, as a void.
    decisions = (
        {f"/v1/{resource}/{{event_id}}:{v}" for v in ("approve", "decline")}
        if resource in REVIEWED
        else set()
    )
    assert set(request_bodies(spec, resource)) == {
        f"/v1/{resource}",
        f"/v1/{resource}:batch",
        f"/v1/{resource}/{{event_id}}:void",
        *decisions,
    }


def test_every_request_field_has_a_description_and_an_example(doc):
    resource, spec = doc
    seen: set[str] = set()
    models = [
        m for body in request_bodies(spec, resource).values() for m in objects(spec, body["schema"], seen)
    ]
    record = SERVICES[resource][1].__name__
    expected = {f"{record}Submission", f"{record}SubmissionBatch", "VoidRequest"}
    assert expected | ({"Enterprise"} if resource == "contacts" else set()) == {t for t, _ in models}
    missing = [
        f"{title}.{name}: {'description' if 'description' not in prop else 'example'}"
        for title, schema in models
        for name, prop in schema["properties"].items()
        if "description" not in prop or not (prop.get("examples") or "example" in prop)
    ]
    assert not missing, missing


def test_every_kind_is_shown_with_its_chinese_term(doc):
    resource, spec = doc
    record = resolve(spec, request_bodies(spec, resource)[f"/v1/{resource}"]["schema"])
    for field, enum in SERVICES[resource][2].items():
        description = record["properties"][field]["description"]
        for value in enum:
            chinese, english = TERMS[value]
            assert f"| `{value.value}` | {chinese} | {english} |" in description


def test_every_route_has_a_valid_example_body(doc):
    resource, spec = doc
    model = SERVICES[resource][1]
    bodies = request_bodies(spec, resource)
    examples = {path: [e["value"] for e in body["examples"].values()] for path, body in bodies.items()}
    assert all(examples.values()), examples
    for value in examples[f"/v1/{resource}"]:
        model.model_validate({k: v for k, v in value.items() if k != "id"})
    for value in examples[f"/v1/{resource}:batch"]:
        assert len({item["id"] for item in value["items"]}) == len(value["items"]) > 1
        for item in value["items"]:
            model.model_validate({k: v for k, v in item.items() if k != "id"})
    for verb in ("void", "approve", "decline") if resource in REVIEWED else ("void",):
        for value in examples[f"/v1/{resource}/{{event_id}}:{verb}"]:
            VoidRequest.model_validate(value)


def test_errors_are_documented_as_problem_json(doc):
    resource, spec = doc
    responses = spec["paths"][f"/v1/{resource}"]["post"]["responses"]
    for status in ("401", "403", "409", "413", "422", "503"):
        assert "application/problem+json" in responses[status]["content"], status


def test_every_enum_value_has_a_term():
    for enum in (DeploymentKind, ContactKind, Channel, TrainingKind, EvaluationLevel, Performance):
        assert all(TERMS[v][0] and TERMS[v][1] for v in enum)
