"""Who a caller is: a role at a place in the organisation tree (city → court → branch), and what
that lets it do. Pure rules, no I/O: the registry look-ups that feed them live in shared/org.py."""

from dataclasses import dataclass, field

WRITE_EVENTS = "events:write"
READ_RANKINGS = "rankings:read"
ADMIN = "admin"
SCOPES = (WRITE_EVENTS, READ_RANKINGS, ADMIN)

# Each role's scopes; its reach is the court or branch the token names (none: the whole city).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "service": frozenset({WRITE_EVENTS}),  # a machine writer (服务账号), as the static tokens are
    "member": frozenset({WRITE_EVENTS}),  # 党员: submits their own records, for their own branch
    "clerk": frozenset({WRITE_EVENTS}),  # 联络员/录入员: submits for one branch
    "secretary": frozenset({WRITE_EVENTS, READ_RANKINGS}),  # 支部书记: a branch; reads its court
    "court_admin": frozenset({ADMIN, READ_RANKINGS, WRITE_EVENTS}),  # 法院管理员: one court
    "city_admin": frozenset({ADMIN, READ_RANKINGS, WRITE_EVENTS}),  # 市级管理员: the city
    "reader": frozenset({READ_RANKINGS}),  # 查看者: a court, or the city without a court
}
# Roles that act for one branch (a branch claim is required), one court (a court claim is
# required), or the city (no claim needed; city_admin ignores a court claim).
BRANCH_ROLES = frozenset({"member", "clerk", "secretary"})
COURT_ROLES = frozenset({"court_admin"})
CITY_ROLES = frozenset({"city_admin"})
# The most capable role first: a token naming several acts under the first it names of these.
ROLE_ORDER = ("city_admin", "court_admin", "secretary", "clerk", "member", "reader", "service")


class Refused(Exception):
    """A request outside the caller's reach: 403, with a reason that names no secret."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `court`/`branch` None: no limit at that level (a city-wide caller)."""

    name: str  # for logs and per-caller limits: a static token's name, or the OIDC subject
    role: str
    scopes: frozenset[str]
    court: str | None = None
    branch: str | None = None
    subject: str | None = None  # the OIDC `sub`: a member's member id
    key: str = field(default="", repr=False)  # a stable per-caller key (stream slots); no secret
    expires: float = float("inf")  # a sign-on token's exp (Unix time); static tokens do not expire

    @property
    def sha256(self) -> str:
        """The per-caller key under the name the stream slots used for static tokens."""
        return self.key or self.name

    @property
    def city_wide(self) -> bool:
        return self.court is None and self.branch is None

    def where(self) -> str:
        if self.branch:
            return f"branch {self.branch} of court {self.court}"
        return f"court {self.court}" if self.court else "the city"


def principal_for(
    name: str, roles: list[str], court: str | None, branch: str | None, subject: str | None, key: str
) -> Principal:
    """The principal a sign-on token's claims describe, or Refused naming what is missing."""
    known = [r for r in ROLE_ORDER if r in roles]
    if not known:
        raise Refused(f"the token names no role of this system ({', '.join(ROLE_ORDER)})")
    role = known[0]
    scopes = frozenset().union(*(ROLE_SCOPES[r] for r in known))
    if role in CITY_ROLES:
        return Principal(name, role, scopes, None, None, subject, key)
    if role in BRANCH_ROLES and not (court and branch):
        raise Refused(f"a {role} token must name its court and branch")
    if role in COURT_ROLES and not court:
        raise Refused(f"a {role} token must name its court")
    if role == "member" and not subject:
        raise Refused("a member token must name the member as its subject")
    if branch and not court:
        raise Refused("a token naming a branch must name its court too")
    return Principal(name, role, scopes, court, branch if role in BRANCH_ROLES else None, subject, key)


def lacks_scope(principal: Principal, scope: str) -> str | None:
    """Why `principal` may not use a route needing `scope` (None: it may)."""
    return None if scope in principal.scopes else f"the token lacks the scope {scope}"


def reading_court(principal: Principal, asked: str | None) -> str | None:
    """The court a read answers for: the caller's own unless city-wide; another court is Refused."""
    if principal.court is None:
        return asked
    if asked is not None and asked != principal.court:
        raise Refused(f"the token reads court {principal.court} only, not court {asked}")
    return principal.court


def check_branch(principal: Principal, branch_id: str, court: str | None, writing: bool) -> None:
    """Refused unless `branch_id` (registered in `court`; None: unregistered) is within reach.

    A branch-bound caller writes for its own branch only, and reads its court; a court-bound
    caller reaches the branches registered in its court (an unregistered branch is nobody's)."""
    if principal.city_wide:
        return
    if writing and principal.branch is not None and branch_id != principal.branch:
        raise Refused(f"the token writes for branch {principal.branch} only, not branch {branch_id}")
    if court is None:
        raise Refused(f"branch {branch_id} is not registered in court {principal.court}")
    if court != principal.court:
        raise Refused(f"branch {branch_id} belongs to another court than {principal.court}")


def check_member(principal: Principal, member_id: str | None) -> None:
    """A member submits or voids only their own records (the member id is the token's subject)."""
    if principal.role == "member" and member_id != principal.subject:
        raise Refused("a member token submits its own records only (member_id must be its subject)")
