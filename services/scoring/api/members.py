"""The member registry (党员登记): PUT/GET/DELETE /v1/members. A member's branch, role and dates
are effective-dated events on the registry topic (every API process folds them, registry_log.py);
the name lives only in MongoDB's `member_names` (one `_id` lookup each), so erasing it leaves the
pseudonymous id in scores and history. Names are shown to admins reaching the member's court and
to the secretary of the member's branch, never to readers, and never logged or audited."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator
from pymongo.asynchronous.collection import AsyncCollection

from services.scoring.api.branches import registry_write
from services.scoring.api.read_model import MongoReadModel, today_in_court
from services.scoring.api.registry_log import RegistryLog
from services.scoring.core import roster
from services.scoring.core.roster import ROLE_LABELS, MemberEntry, MemberVersion
from shared.audit import audit
from shared.auth import AuthFirstRoute, Reader, require_branch, require_court, scope_check
from shared.contracts import ID_PATTERN, LINE_PATTERN, Contract
from shared.principal import ADMIN, Principal
from shared.problems import Problem
from shared.registry_events import Day, MemberChanged
from shared.settings import KafkaSettings

NAMES = "member_names"
MemberId = Annotated[str, Path(pattern=ID_PATTERN, examples=["m-001"])]
Role = Literal["secretary", "committee", "member"]
# The member's branch is in the body or the registry, not the path: the route checks the reach.
MemberAdmin = Annotated[Principal, Security(scope_check(ADMIN, org="body"), scopes=[ADMIN])]
MemberReader = Annotated[
    Principal, Security(scope_check("rankings:read", org="body"), scopes=["rankings:read"])
]


class MemberIn(Contract):
    """A member's registration (PUT replaces it from `effective` on)."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=50,
            pattern=LINE_PATTERN,
            description="kept apart, erasable",
            examples=["张三"],
        ),
    ]
    branch_id: Annotated[str, Field(pattern=ID_PATTERN, examples=["zy-civil-1"])]
    role: Annotated[Role, Field(description="secretary 书记, committee 委员, member 党员")]
    joined: Annotated[Day, Field(examples=["2015-07-01"])]
    left: Day | None = None
    effective: Annotated[
        Day | None,
        Field(description="from when (Asia/Shanghai); default: joined for a new member, today for a change"),
    ] = None

    @model_validator(mode="after")
    def _dates(self) -> "MemberIn":
        if self.left is not None and self.left < self.joined:
            raise ValueError("left: before joined")
        return self


class MemberOut(BaseModel):
    member_id: str
    branch_id: str
    court: str | None
    role: Role
    role_label: str
    joined: date
    left: date | None
    effective: date | None = Field(default=None, description="from when this place holds")
    name: str | None = Field(
        description="only for admins of its court and its branch's secretary; null: hidden or erased"
    )


class MemberHistory(BaseModel):
    member_id: str
    name: str | None
    current: MemberOut | None = Field(description="its place today; null: not a member today")
    history: list[MemberOut]


class MongoMemberNames:
    """Names by member id (`_id` lookups only: FerretDB indexes nothing else)."""

    def __init__(self, names: AsyncCollection):
        self._names = names

    async def get(self, ids: list[str]) -> dict[str, str]:
        docs = await asyncio.gather(*(self._names.find_one({"_id": i}) for i in ids))
        return {d["_id"]: d["name"] for d in docs if d and isinstance(d.get("name"), str)}

    async def put(self, member_id: str, name: str) -> None:
        await self._names.replace_one({"_id": member_id}, {"_id": member_id, "name": name}, upsert=True)

    async def erase(self, member_id: str) -> None:
        await self._names.delete_one({"_id": member_id})


def may_see_name(principal: Principal, branch_id: str, court: str | None) -> bool:
    """Admins whose reach covers the member's court, and the secretary of the member's branch."""
    if ADMIN in principal.scopes and (principal.court is None or principal.court == court):
        return principal.branch is None
    return principal.role == "secretary" and principal.branch == branch_id


class MemberDirectory:
    """Members as this API process knows them (the registry topic), and their names for those
    who may see them: what the grade, excellent-place and finalisation answers build on."""

    def __init__(self, model: MongoReadModel, names: MongoMemberNames):
        self._model, self.names = model, names

    @property
    def log(self) -> RegistryLog:
        log = self._model.registry_log
        if log is None:
            raise Problem(503, "Service Unavailable", "the member registry is not followed")
        return log

    def roster_of(self, year: int, court: str | None = None, branch: str | None = None) -> list[MemberEntry]:
        """The members of `year` (each once, as of their last day of membership in it)."""
        return roster.roster_of(self.log.registry, year, court, branch, self._model.courts_now())

    def on(self, day: date, court: str | None = None, branch: str | None = None) -> list[MemberEntry]:
        """The members on `day` (its court: its branch's as registered then)."""
        reg, found = self.log.registry, []
        ids = reg.by_branch.get(branch, set()) if branch is not None else reg.members.keys()
        for member_id in sorted(ids):
            v = roster.member_at(reg, member_id, day)
            if v is None or (branch is not None and v.branch_id != branch):
                continue
            entry = self.entry(v, day)
            if court is None or entry.court == court:
                found.append(entry)
        return found

    def place(self, member_id: str, day: date | None = None) -> MemberEntry | None:
        """The member's place in force on `day` (default today), joined or not; None: unknown."""
        reg = self.log.registry
        day = day or today_in_court()
        v = roster.version_on(reg, member_id, day)
        return self.entry(v, day) if v else None

    async def name_for(self, principal: Principal, member_id: str) -> str | None:
        """The member's name if `principal` may see it (None: hidden, erased or unknown)."""
        entry = self.place(member_id)
        if entry is None or not may_see_name(principal, entry.branch_id, entry.court):
            return None
        return (await self.names.get([member_id])).get(member_id)

    def entry(self, v: MemberVersion, day: date) -> MemberEntry:
        """`v` as an entry, its court its branch's on `day` (else as registered without a history)."""
        b = roster.branch_at(self.log.registry, v.branch_id, day)
        court = b.court if b else self._model.courts_now().get(v.branch_id)
        return MemberEntry(v.member_id, v.branch_id, court, v.role, v.joined, v.left)

    async def names_for(self, principal: Principal, entries: list[MemberEntry]) -> dict[str, str]:
        """The names of those `entries` whose name `principal` may see."""
        visible = [e.member_id for e in entries if may_see_name(principal, e.branch_id, e.court)]
        return await self.names.get(visible) if visible else {}


def _out(e: MemberEntry, name: str | None, effective: date | None = None) -> MemberOut:
    return MemberOut(
        member_id=e.member_id,
        branch_id=e.branch_id,
        court=e.court,
        role=e.role,  # type: ignore[arg-type]
        role_label=ROLE_LABELS[e.role],
        joined=e.joined,
        left=e.left,
        effective=effective,
        name=name,
    )


def directory(request: Request) -> MemberDirectory:
    return request.app.state.members  # type: ignore[no-any-return]


def members_router(kafka: KafkaSettings) -> APIRouter:
    """The routes, and (for the app's lifetime) the registry topic's follower in the read model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log = RegistryLog(kafka, app.state.read_model.db.name)
        model: MongoReadModel = app.state.read_model
        model.follow_registry(log)
        app.state.members = MemberDirectory(model, MongoMemberNames(model.db[NAMES]))
        task = asyncio.create_task(log.run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await log.stop()

    router = APIRouter(tags=["members"], route_class=AuthFirstRoute, lifespan=lifespan)

    @router.put(
        "/v1/members/{member_id}",
        response_model=MemberOut,
        summary="Register, change or move a member (admin)",
    )
    async def put_member(
        member_id: MemberId, body: MemberIn, request: Request, who: MemberAdmin
    ) -> MemberOut:
        members, model = directory(request), request.app.state.read_model
        await model.branches()  # the registry topic read once, after a start
        branch = await model.branch(body.branch_id)
        if branch is None:
            raise Problem(422, "Unprocessable Content", f"branch_id: {body.branch_id} is not registered")
        require_court(who, branch.court)  # a court's admin registers into its own court only
        now = members.place(member_id)
        if now is not None and now.court is not None:
            require_court(who, now.court)  # and moves only its own court's members
        effective = body.effective or (body.joined if now is None else today_in_court())
        change = MemberChanged(
            member_id=member_id,
            branch_id=body.branch_id,
            role=body.role,
            joined=body.joined,
            left=body.left,
            effective=effective,
        )
        await audit(request, who, "member.put", member_id, branch.court, body.branch_id)  # before the change
        await members.names.put(member_id, body.name)
        await registry_write(members.log.write(change))
        entry = MemberEntry(member_id, body.branch_id, branch.court, body.role, body.joined, body.left)
        return _out(entry, body.name, effective)

    @router.delete(
        "/v1/members/{member_id}",
        status_code=204,
        summary="Erase a member's name (admin); the id stays in scores and history",
    )
    async def erase_member(member_id: MemberId, request: Request, who: MemberAdmin) -> Response:
        members = directory(request)
        await request.app.state.read_model.branches()
        now = members.place(member_id)
        if now is None:
            raise Problem(404, "Not Found", f"no registered member {member_id}")
        if now.court is not None:
            require_court(who, now.court)
        await audit(request, who, "member.erase", member_id, now.court, now.branch_id)
        await members.names.erase(member_id)
        return Response(status_code=204)

    @router.get(
        "/v1/members",
        response_model=list[MemberOut],
        summary="Members of a branch or court, today or in a year (names for those who may see them)",
    )
    async def list_members(
        request: Request,
        who: Reader,
        branch: Annotated[str | None, Query(pattern=ID_PATTERN, examples=["zy-civil-1"])] = None,
        court: Annotated[str | None, Query(pattern=ID_PATTERN, examples=["cz-zy"])] = None,
        year: Annotated[
            int | None,
            Query(ge=1990, le=2999, description="the year's members, each as of its last day in it"),
        ] = None,
    ) -> list[MemberOut]:
        members = directory(request)
        await request.app.state.read_model.branches()  # the registry topic read once, after a start
        if year is None:
            entries = members.on(today_in_court(), court, branch)
        else:
            entries = members.roster_of(year, court, branch)
        names = await members.names_for(who, entries)
        return [_out(e, names.get(e.member_id)) for e in entries]

    @router.get(
        "/v1/members/{member_id}", response_model=MemberHistory, summary="A member's place and history"
    )
    async def member(member_id: MemberId, request: Request, who: MemberReader) -> MemberHistory:
        members = directory(request)
        await request.app.state.read_model.branches()
        now = members.place(member_id)
        if now is None:
            raise Problem(404, "Not Found", f"no registered member {member_id}")
        await require_branch(request, who, now.branch_id, writing=False)
        reg = members.log.registry
        history = [_out(members.entry(v, v.effective), None, v.effective) for v in reg.members[member_id]]
        name = await members.name_for(who, member_id)
        today = today_in_court()
        current = roster.member_at(reg, member_id, today)
        return MemberHistory(
            member_id=member_id,
            name=name,
            current=_out(members.entry(current, today), name) if current else None,
            history=history,
        )

    return router
