"""HTTP metrics are labelled by route template, never by the raw path."""

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services.volunteer.app import VolunteerSettings, create_app


def count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"service": "volunteer", "method": "POST", "route": route, "status": status}
    )
    return value or 0.0


def test_requests_are_counted_by_route_template():
    client = TestClient(create_app(VolunteerSettings()))
    route = "/v1/deployments/{event_id}:void"
    before = count(route, "401")
    assert client.post("/v1/deployments/some-secret-id:void", json={}).status_code == 401
    assert count(route, "401") == before + 1
    assert (
        REGISTRY.get_sample_value(
            "http_requests_total",
            {
                "service": "volunteer",
                "method": "POST",
                "route": "/v1/deployments/some-secret-id:void",
                "status": "401",
            },
        )
        is None
    )
    before = count("unmatched", "404")
    assert client.post("/no/such/path", json={}).status_code == 404
    assert count("unmatched", "404") == before + 1
