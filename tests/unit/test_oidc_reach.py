"""The organisation half of every route's check, in process: court= filled in or refused, branches
in the path or the query checked against the registry, city-wide routes refused to a court."""

from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.testclient import TestClient

from shared.auth import (
    Admin,
    Authenticator,
    AuthFirstRoute,
    AuthSettings,
    CourtOf,
    Reader,
    TokenEntry,
    require_court,
    token_hash,
)
from shared.principal import ADMIN, READ_RANKINGS, Principal, Refused, check_branch, principal_for
from shared.problems import install

REGISTRY = {"a1": "A", "a2": "A", "b1": "B"}


class Registry(CourtOf):
    async def court_of(self, branch_id: str) -> str | None:
        return REGISTRY.get(branch_id)


def client() -> TestClient:
    app = FastAPI()
    entries = [
        TokenEntry(name="city", sha256=token_hash("city"), scopes=[READ_RANKINGS, ADMIN]),
        TokenEntry(name="court-a", sha256=token_hash("court-a"), scopes=[READ_RANKINGS, ADMIN], court="A"),
    ]
    app.state.authenticator = Authenticator(AuthSettings(tokens=entries))
    app.state.org = Registry()
    install(app)
    router = APIRouter(route_class=AuthFirstRoute)

    @router.get("/v1/ranked")
    async def ranked(_: Reader, court: Annotated[str | None, Query()] = None) -> dict:
        return {"court": court}

    @router.get("/v1/branches/{branch_id}/score")
    async def score(branch_id: str, _: Reader) -> dict:
        return {"branch": branch_id}

    @router.get("/v1/trend")
    async def trend(_: Reader, branch: str | None = None, court: str | None = None) -> dict:
        return {"branch": branch, "court": court}

    @router.get("/v1/everything")
    async def everything(_: Reader) -> dict:
        return {}

    @router.get("/v1/courts")
    async def courts(_: Reader) -> dict:
        return {}

    @router.put("/v1/branches/{branch_id}")
    async def put(branch_id: str, who: Admin, court: str) -> dict:
        require_court(who, court)
        return {"branch": branch_id, "court": court}

    app.include_router(router)
    return TestClient(app)


def get(path: str, token: str, method: str = "GET") -> tuple[int, dict]:
    response = client().request(method, path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("path", "city", "court_a"),
    [
        ("/v1/ranked", {"court": None}, {"court": "A"}),  # a court's reader gets its own court
        ("/v1/ranked?court=A", {"court": "A"}, {"court": "A"}),
        ("/v1/ranked?court=B", {"court": "B"}, 403),
        ("/v1/ranked?court=B&court=A", {"court": "A"}, {"court": "A"}),  # the last one counts, as in FastAPI
        ("/v1/ranked?court=A&court=B", {"court": "B"}, 403),
        ("/v1/branches/a2/score", {"branch": "a2"}, {"branch": "a2"}),
        ("/v1/branches/b1/score", {"branch": "b1"}, 403),
        ("/v1/branches/nobody/score", {"branch": "nobody"}, 403),  # unregistered: no court's
        ("/v1/trend?branch=a1", {"branch": "a1", "court": None}, {"branch": "a1", "court": None}),
        ("/v1/trend?branch=b1", {"branch": "b1", "court": None}, 403),
        ("/v1/trend?branch=a1&court=B", {"branch": "a1", "court": "B"}, 403),
        ("/v1/everything", {}, 403),  # a city-wide answer
        ("/v1/courts", {}, {}),  # reference data (CITY_REFERENCE)
    ],
)
def test_reads_are_the_courts_own(path, city, court_a):
    assert get(path, "city") == (200, city)
    status, body = get(path, "court-a")
    if court_a == 403:
        assert status == 403 and ("court" in body["detail"] or "city" in body["detail"]), body
    else:
        assert (status, body) == (200, court_a)


def test_a_court_admin_registers_into_its_own_court_only():
    assert get("/v1/branches/new?court=A", "court-a", "PUT")[0] == 200  # a new branch of its court
    assert get("/v1/branches/a1?court=A", "court-a", "PUT")[0] == 200
    assert get("/v1/branches/new?court=B", "court-a", "PUT")[0] == 403
    assert get("/v1/branches/b1?court=A", "court-a", "PUT")[0] == 403  # no taking another's branch
    assert get("/v1/branches/b1?court=A", "city", "PUT")[0] == 200


def test_a_branch_token_needs_its_court():
    with pytest.raises(ValueError, match="names its court"):
        TokenEntry(name="x", sha256=token_hash("x"), scopes=[READ_RANKINGS], branch="a1")


def test_the_rules_of_reach():
    clerk = principal_for("c", ["clerk"], "A", "a1", "s", "k")
    secretary = principal_for("s", ["secretary"], "A", "a1", "s", "k")
    check_branch(clerk, "a1", "A", writing=True)
    check_branch(secretary, "a2", "A", writing=False)  # reads its court
    for who, branch, court, writing in [
        (clerk, "a2", "A", True),
        (secretary, "b1", "B", False),
        (clerk, "a1", None, True),  # its branch, yet unregistered: not provably its court's
    ]:
        with pytest.raises(Refused):
            check_branch(who, branch, court, writing)
    reader = principal_for("r", ["reader"], None, None, "s", "k")
    assert reader.city_wide and principal_for("r", ["reader", "clerk"], "A", "a1", "s", "k").role == "clerk"
    city = principal_for("c", ["city_admin"], "A", None, "s", "k")
    assert isinstance(city, Principal) and city.city_wide  # a court claim does not narrow a city admin
