"""OpenAPI examples of the intake routes, built from the examples on the contract's own fields."""

from typing import Any

from pydantic import BaseModel

VOID_EXAMPLE = {"reason": "entered twice by mistake"}


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """A request body made of each field's first example, so docs and contract cannot drift."""
    return {name: f.examples[0] for name, f in model.model_fields.items() if f.examples}


def batch_example(record: dict[str, Any]) -> dict[str, Any]:
    """Two records as one batch: distinct ids, the second for another member."""
    second = {**record, "id": f"{record.get('id', 'r')}-2", "member_id": "m-002"}
    return {"items": [record, second]}


def single(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    """`openapi_examples` of a route's body: one named example."""
    return {"example": {"summary": summary, "value": value}}
