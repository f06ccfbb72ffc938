"""The member registry's part of the authorisation matrix: PUT, DELETE and GET /v1/members/{id}
name no branch in their path, so each checks the reach of the member's branch itself (the one its
body names, and the one it is in now). Members written here join in 2099, so no period anyone
ranks counts them."""

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import URLS, dev_env, new_id

MEMBER_PATH = "/v1/members/{member_id}"
JOINED = "2099-01-01"
_MADE: dict[str, str] = {}  # branch id -> a member registered there by the demo admin


def member_in(branch: str) -> str:
    """A member of `branch` (registered once per test run)."""
    if branch not in _MADE:
        member = new_id("sec-org-m")
        body = {"name": "矩阵测试", "branch_id": branch, "role": "member", "joined": JOINED}
        headers = {"Authorization": f"Bearer {dev_env()['DEV_ADMIN_TOKEN']}"}
        r = httpx.put(f"{URLS['scoring']}/v1/members/{member}", json=body, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        _MADE[branch] = member
    return _MADE[branch]


def check_member_registry(op: Any, org: Any, role: Any, send: Callable, judge: Callable) -> None:
    """PUT (a new member into a branch of its own court and of another; another court's member
    into its own court), DELETE and GET of a member of its own court and of another."""
    if op.method == "PUT":
        cases = [
            ("new member, own court", new_id("sec-org-m"), org.a1),
            ("new member, another court", new_id("sec-org-m"), org.b1),
        ]
        if role.court is not None:  # a city-wide admin would really move it: asked of court-bound roles only
            cases.append(("another court's member into its own", member_in(org.b1), org.a1))
        for case, member, branch in cases:
            body = {"name": "矩阵测试", "branch_id": branch, "role": "member", "joined": JOINED}
            response = send(op, role, op.path.replace("{member_id}", member), {}, body)
            taken = member == _MADE.get(org.b1)
            allowed = role.court is None or (org.court_of(branch) == role.court and not taken)
            judge(op, role, case, response, allowed)
        return
    for case, branch in (("own court's member", org.a1), ("another court's member", org.b1)):
        response = send(op, role, op.path.replace("{member_id}", member_in(branch)), {})
        writing = op.method != "GET"
        allowed = (
            role.reaches(org, None, branch, writing=False)
            if not writing
            else role.court in (None, org.court_of(branch))
        )
        judge(op, role, case, response, allowed)
