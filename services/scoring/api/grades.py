"""GET /v1/grades (政治素质考察: each member's grade with its reasons, and the distribution) and
GET /v1/excellent (优秀等次: each court's excellent places with the quota arithmetic)."""

from collections import defaultdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.scoring.api.assessment import advanced_json
from services.scoring.api.member_scores import member_year_points
from services.scoring.api.rankings import JSON_OPTIONS, Court
from services.scoring.api.read_model import MongoReadModel
from services.scoring.core import excellent
from services.scoring.core.examination import Examination
from services.scoring.core.grade_rules import GRADE_LABELS, GRADES
from services.scoring.core.grades import Graded, distribution, grade_branch
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN

Year = Annotated[str, Query(pattern=r"^[0-9]{4}$", description="the assessment year", examples=["2022"])]
Branch = Annotated[str | None, Query(pattern=ID_PATTERN, description="only this branch's members")]
GRADE_RULE = (
    "A score out of 100 from the democratic-evaluation ballots (民主评议), the appraisals (审判质效, "
    "干部绩效考核) and the year points against the branch's median, weighed by the rulebook's [grades]; "
    "the score gives 好/较好/一般/较差, then hard rules cap it (a majority of 较差 ballots, 不称职 or "
    "基本称职, no yearly integrity pledge, too few ballots). Each member's reasons say what decided it."
)
EXCELLENT_RULE = (
    "Per court, among members graded 好 (good), by year points: base_share of the court's graded "
    "members outside the year's advanced branches, base_share + advanced_extra of those in them "
    "(本院 and 市直先进党支部). Quotas round up; ties at the boundary are all named."
)


class GradeOut(BaseModel):
    member_id: str
    branch_id: str
    court: str | None
    grade: str = Field(description="good, fairly_good, average or poor")
    label: str = Field(description="好, 较好, 一般 or 较差")
    score: float = Field(description="the combined score out of 100, before the hard rules")
    points: float = Field(description="the member's weighted year points")
    ballots: dict[str, int] = Field(description="ballots per level (one per voter, the latest); never who")
    appraisals: list[dict[str, Any]]
    reasons: list[str]


class Grades(BaseModel):
    year: str
    rule: str = GRADE_RULE
    rulebook_version: str
    members_from: str = Field(description="registry (the year's roster) or records (members seen)")
    members: list[GradeOut]
    distribution: dict[str, Any] = Field(
        description="grades counted: the whole answer, per court, per branch"
    )


class PoolOut(BaseModel):
    name: str = Field(description="advanced (members of advanced branches) or other")
    members: int
    share: float
    quota: int
    arithmetic: str
    candidates: int = Field(description="members of the pool graded 好")
    places: list[dict[str, Any]]


class Excellent(BaseModel):
    year: str
    rule: str = EXCELLENT_RULE
    rulebook_version: str
    courts: dict[str, dict[str, Any]]


def _members(request: Request, year: str, court: str | None, branch: str | None, seen: dict) -> tuple:
    """(member, branch, court) of the year: the registry's roster where a branch has one, else the
    members seen in its records; and which it was."""
    directory = getattr(request.app.state, "members", None)
    try:
        roster = directory.roster_of(int(year), court, branch) if directory is not None else []
    except Exception:  # the registry is not followed (yet): members seen in records
        roster = []
    listed = {(e.member_id, e.branch_id): e.court for e in roster}
    with_roster = {b for _, b in listed}
    for (member, b), c in seen.items():
        if b not in with_roster and (court is None or c == court) and (branch is None or b == branch):
            listed[(member, b)] = c
    return listed, "registry" if roster else "records"


async def _graded(request: Request, year: str, court: str | None, branch: str | None) -> tuple:
    model: MongoReadModel = request.app.state.read_model
    view = model.view()
    rulebook = model.rulebook(view)
    registry = await model.branches()
    exams: dict[tuple[str, str], Examination] = {}
    seen: dict[tuple[str, str], str | None] = {}
    for s in view.members.of_year(year):
        home = registry.get(s.branch_id)
        seen[(s.member_id, s.branch_id)] = home.court if home else None
        if s.examination is not None:
            exams[(s.member_id, s.branch_id)] = s.examination
    listed, source = _members(request, year, court, branch, seen)
    points = {m: p["total"] for m, p in member_year_points(view, year, rulebook=rulebook).items()}
    by_branch: dict[str, list[str]] = defaultdict(list)
    for member, b in sorted(listed):
        by_branch[b].append(member)
    graded: dict[tuple[str, str], Graded] = {}
    for b, members in sorted(by_branch.items()):
        mine = {m: exams[(m, b)] for m in members if (m, b) in exams}
        for m, g in grade_branch(members, mine, points, rulebook.grades).items():
            graded[(m, b)] = g
    return graded, listed, exams, points, rulebook, source


def _row(key: tuple[str, str], g: Graded, court: str | None, exam: Examination | None, points: float) -> dict:
    member, branch = key
    return {
        "member_id": member,
        "branch_id": branch,
        "court": court,
        "grade": g.grade,
        "label": GRADE_LABELS[g.grade],
        "score": g.score,
        "points": points,
        "ballots": dict(exam.ballots) if exam else dict.fromkeys(GRADES, 0),
        "appraisals": [
            {"source": a.source, "trial_quality": a.trial_quality, "performance": a.performance}
            for a in (exam.appraisals if exam else [])
        ],
        "reasons": g.reasons,
    }


async def grades_answer(request: Request, year: str, court: str | None, branch: str | None) -> dict:
    """The answer of GET /v1/grades as a dict (the finalisation freezes its members)."""
    graded, listed, exams, points, rulebook, source = await _graded(request, year, court, branch)
    rows = [_row(k, g, listed[k], exams.get(k), points.get(k[0], 0.0)) for k, g in sorted(graded.items())]
    per_court: dict[str, dict] = defaultdict(dict)
    per_branch: dict[str, dict] = defaultdict(dict)
    for (m, b), g in graded.items():
        per_court[listed[(m, b)] or "-"][m] = g
        per_branch[b][m] = g
    return {
        "year": year,
        "rule": GRADE_RULE,
        "rulebook_version": rulebook.version,
        "members_from": source,
        "members": rows,
        "distribution": {
            "all": distribution({f"{m}|{b}": g for (m, b), g in graded.items()}),
            "courts": {c: distribution(gs) for c, gs in sorted(per_court.items())},
            "branches": {b: distribution(gs) for b, gs in sorted(per_branch.items())},
        },
    }


async def excellent_answer(request: Request, year: str, court: str | None, fresh: bool = False) -> dict:
    """The answer of GET /v1/excellent as a dict (the finalisation freezes its places; `fresh`:
    see advanced_json)."""
    graded, listed, _, points, rulebook, _ = await _graded(request, year, court, None)
    advanced = orjson.loads(await advanced_json(request, year, fresh))
    registry = await request.app.state.read_model.branches()
    chosen: dict[str, set[str]] = defaultdict(set)
    for pick in [p for picks in advanced["per_court"].values() for p in picks] + advanced["city"]:
        home = registry.get(pick["branch_id"])
        if home is not None:
            chosen[home.court].add(pick["branch_id"])
    courts: dict[str, list[excellent.Member]] = defaultdict(list)
    for (m, b), g in sorted(graded.items()):
        if (c := listed[(m, b)]) is not None:  # a branch nobody registered belongs to no court
            courts[c].append(excellent.Member(m, b, g.grade, points.get(m, 0.0)))
    pools = excellent.by_court(courts, chosen, rulebook.excellent)
    return {
        "year": year,
        "rule": EXCELLENT_RULE,
        "rulebook_version": rulebook.version,
        "courts": {
            c: {
                "members": sum(p.members for p in ps),
                "advanced_branches": sorted(chosen.get(c, set())),
                "places": sum(len(p.places) for p in ps),
                "pools": [_pool(p) for p in ps],
            }
            for c, ps in pools.items()
        },
    }


def _pool(p: excellent.Pool) -> dict[str, Any]:
    return {
        "name": p.name,
        "members": p.members,
        "share": round(p.share, 4),
        "quota": p.quota,
        "arithmetic": p.arithmetic,
        "candidates": p.candidates,
        "places": [
            {"rank": x.rank, "member_id": x.member_id, "branch_id": x.branch_id, "points": x.points}
            for x in p.places
        ],
    }


def grades_router() -> APIRouter:
    router = APIRouter(tags=["members"], route_class=AuthFirstRoute)

    @router.get(
        "/v1/grades", response_model=Grades, summary="Members' political-quality grades (政治素质考察)"
    )
    async def grades_view(
        request: Request, _: Reader, year: Year, court: Court = None, branch: Branch = None
    ) -> Response:
        body = await grades_answer(request, year, court, branch)
        return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")

    @router.get("/v1/excellent", response_model=Excellent, summary="Excellent places per court (优秀等次)")
    async def excellent_view(request: Request, _: Reader, year: Year, court: Court = None) -> Response:
        body = await excellent_answer(request, year, court)
        return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")

    return router
