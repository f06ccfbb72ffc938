"""The authorisation matrix's cases for review (审核) and evidence: :approve and :decline by the
record's reviewers only (its branch's secretary, an admin of its court, a city-wide admin), an
evidence upload by whoever may write the record, an evidence read by its reviewers only."""

import hashlib
import os
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import URLS

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(32)  # one file for the whole run: later uploads are duplicates
REVIEW_VERBS = (":approve", ":decline")


def is_review_route(path: str) -> bool:
    return path.endswith(REVIEW_VERBS) or "/evidence" in path


def reviews(role: Any, org: Any, branch: str) -> bool:
    """What shared/review.check_reviewer promises (a role as the matrix names it)."""
    if role.name.startswith("secretary@"):
        return role.branch == branch
    return "admin" in role.scopes and role.branch is None and role.court in (None, org.court_of(branch))


def check_review_route(op: Any, org: Any, role: Any, records: dict[str, str], judge: Callable) -> None:
    """One role against one review or evidence route, for a record of its own branch, of another
    branch of its court and of another court (the scoring API's forwarding routes: liaison's)."""
    for case, branch in (("own branch", org.a1), ("own court", org.a2), ("another court", org.b1)):
        sha256 = hashlib.sha256(PNG).hexdigest()
        path = op.path.replace("{event_id}", records[branch]).replace("{sha256}", sha256)
        path = path.replace("{resource}", "contacts")
        headers = {"Authorization": f"Bearer {role.token}"}
        with httpx.Client(base_url=URLS[op.service], timeout=60) as client:
            if op.path.endswith(REVIEW_VERBS):
                response = client.post(path, json={"reason": "authorisation matrix"}, headers=headers)
                allowed = reviews(role, org, branch)
            elif op.method == "POST":
                response = client.post(path, content=PNG, headers={**headers, "content-type": "image/png"})
                allowed = role.reaches(org, None, branch, writing=True)
            else:
                response = client.get(path, headers=headers)
                allowed = reviews(role, org, branch)
        judge(op, role, case, response, allowed)
        if allowed and op.scope in role.scopes:
            # The records are a service's (no review: 409); an upload is kept (or was: duplicate);
            # the demo writer attached the file before any reviewer reads it.
            expected = {409} if op.path.endswith(REVIEW_VERBS) else {202} if op.method == "POST" else {200}
            if op.service == "scoring" and op.method == "GET":
                expected.add(404)  # the scoring API's operations are checked before liaison's upload
            assert response.status_code in expected, (str(op), role.name, case, response.text[:300])
