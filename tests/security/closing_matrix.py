"""The authorisation matrix's cases for closing the year (finalisations and appeals), whose court,
branch or member is in the body or the path: each role for its own court, branch or member and
another's, in 1999 (nothing is finalised there, so an allowed request is a 404 or 409, no change)."""

from collections.abc import Callable
from typing import Any

from shared.principal import ADMIN
from tests.conftest import new_id

CLOSING_PATHS = ("/v1/finalisations", "/v1/appeals")
YEAR = "1999"


def check_closing(op: Any, org: Any, role: Any, send: Callable, judge: Callable, own_member: str) -> None:
    """Every case of one closing-the-year operation for one role (send and judge: the matrix's)."""
    admin = ADMIN in role.scopes
    if op.method == "GET" and "{" not in op.path:  # court= is required: a court-bound caller names its own
        for case, court in (("own court", org.a), ("another court", org.b)):
            response = send(op, role, op.path, {"year": YEAR, "court": court})
            judge(op, role, case, response, role.court in (None, court))
    elif op.method == "GET" and "{court}" in op.path:
        for case, court in (("own court", org.a), ("another court", org.b)):
            path = op.path.replace("{court}", court).replace("{year}", YEAR).replace("{version}", "1")
            judge(op, role, case, send(op, role, path, {}), role.court in (None, court))
    elif op.path == "/v1/finalisations" and op.method == "POST":
        for case, court in (("own court", org.a), ("another court", org.b)):
            body = {"year": YEAR, "court": court}
            judge(op, role, case, send(op, role, op.path, {}, body), admin and role.court in (None, court))
    elif op.path == "/v1/appeals" and op.method == "POST":
        for case, court, target in (
            ("own member", org.a, {"member_id": own_member}),
            ("another member", org.a, {"member_id": "m-sec-org-other"}),
            ("own branch", org.a, {"branch_id": org.a1}),
            ("own court, another branch", org.a, {"branch_id": org.a2}),
            ("another court", org.b, {"branch_id": org.b1}),
        ):
            body = {"year": YEAR, "court": court, "target": target, "reason": "authorisation matrix"}
            judge(
                op,
                role,
                case,
                send(op, role, op.path, {}, body),
                may_appeal(role, admin, court, target, own_member),
            )
    elif op.path.endswith(":decide"):
        path = op.path.replace("{appeal_id}", f"ap-{new_id('x')[-12:]}00000000")
        judge(
            op,
            role,
            "an unknown appeal",
            send(op, role, path, {}, {"decision": "dismissed", "reason": "m"}),
            admin,
        )
    else:
        raise AssertionError(f"{op}: no matrix case for this closing-the-year operation")


def may_appeal(role: Any, admin: bool, court: str, target: dict[str, str], own_member: str) -> bool:
    """An admin of the court; a member for themself; a secretary for the branch."""
    if admin:
        return role.court in (None, court)
    if role.name.startswith("member@"):
        return court == role.court and target.get("member_id") == own_member
    if role.name.startswith("secretary@"):
        return court == role.court and target.get("branch_id") == role.branch
    return False
