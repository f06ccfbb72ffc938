"""The reminder subscriptions' part of the authorisation matrix: PUT, GET and DELETE
/v1/subscriptions/{id} name no court or branch in their path, so each checks the reach of the
subscription's scope (the one its body names, or the one stored). What the matrix makes it removes,
so no delivery is ever attempted to its (unreachable) address."""

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import URLS, dev_env, new_id

SUBSCRIPTION_PATH = "/v1/subscriptions/{subscription_id}"
URL = "http://127.0.0.1:9/matrix"  # the discard port: allowed by the local stack, never listening


def _body(scope: dict[str, str]) -> dict[str, Any]:
    return {"url": URL, "events": ["reminder.due"], "scope": scope, "secret": "matrix-secret-0123456789"}


def _admin(method: str, sub_id: str, body: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {dev_env()['DEV_ADMIN_TOKEN']}"}
    url = f"{URLS['scoring']}/v1/subscriptions/{sub_id}"
    return httpx.request(method, url, json=body, headers=headers, timeout=60)


def check_subscription(op: Any, org: Any, role: Any, send: Callable, judge: Callable) -> None:
    """PUT a subscription for its own court, another court, its own court's branch and another
    court's branch; GET and DELETE one of its own court and one of another (made by the city admin)."""
    scopes = [
        ("own court", {"court": org.a}, org.a, None),
        ("another court", {"court": org.b}, org.b, None),
        ("own court's branch", {"branch": org.a1}, None, org.a1),
        ("another court's branch", {"branch": org.b1}, None, org.b1),
    ]
    for case, scope, court, branch in scopes if op.method == "PUT" else scopes[:2]:
        sub_id = new_id("sec-org-sub")
        if op.method != "PUT":
            assert _admin("PUT", sub_id, _body(scope)).status_code == 200
        path = op.path.replace("{subscription_id}", sub_id)
        response = send(op, role, path, {}, _body(scope) if op.method == "PUT" else None)
        judge(op, role, case, response, role.reaches(org, court, branch, writing=op.method != "GET"))
        _admin("DELETE", sub_id)  # 404 once the role deleted it
