"""What a finalisation freezes for one court and year, read from the API's live answers at this
moment: its advanced branches (先进党支部, /v1/advanced-branches), its members' grades (政治素质考察,
/v1/grades) and its excellent places (优秀等次, /v1/excellent). Ids only: no member's name."""

from typing import Any

import orjson
from fastapi import Request

from services.scoring.api.assessment import advanced_json
from services.scoring.api.grades import excellent_answer, grades_answer
from services.scoring.api.read_model import MongoReadModel
from services.scoring.core.finalisation import Sections


async def live_sections(request: Request, court: str, year: str, fresh: bool = False) -> tuple[Sections, str]:
    """The sections as they stand now, and the rulebook version they were computed under
    (`fresh`: of the data as it is now, for a finalisation; else possibly the last computed)."""
    model: MongoReadModel = request.app.state.read_model
    advanced = orjson.loads(await advanced_json(request, year, fresh))
    registry = await model.branches()
    ours = {b for b, branch in registry.items() if branch.court == court}
    picks = (advanced["per_court"].get(court, []), advanced["city"])
    graded = await grades_answer(request, year, court, None)
    places = (await excellent_answer(request, year, court, fresh))["courts"].get(court, {"pools": []})
    sections: Sections = {
        "advanced_branches": advanced_branches(*picks, ours),
        "grades": [grade(row) for row in graded["members"]],
        "excellent": excellent_places(places["pools"]),
    }
    return sections, str(advanced["rulebook_version"])


def grade(row: dict[str, Any]) -> dict[str, Any]:
    """A member's grade as frozen: the grade, its label, the score and the reasons that decided it."""
    keep = ("member_id", "branch_id", "grade", "label", "score", "reasons")
    return {k: row[k] for k in keep}


def excellent_places(pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The court's excellent places, each with its pool (advanced branches' or the others'),
    its rank in the pool and the pool's quota arithmetic."""
    return [
        {**place, "pool": pool["name"], "arithmetic": pool["arithmetic"]}
        for pool in pools
        for place in pool["places"]
    ]


def advanced_branches(
    court_picks: list[dict], city_picks: list[dict], ours: set[str]
) -> list[dict[str, Any]]:
    """The court's advanced branches: its own picks (本院, court_rank) and its branches among the
    city's picks (市直, city_rank), one entry per branch, best court rank first."""
    entries: dict[str, dict[str, Any]] = {}
    for level, picks in (("court_rank", court_picks), ("city_rank", city_picks)):
        for pick in picks:
            if pick["branch_id"] not in ours:
                continue
            entry = entries.setdefault(
                pick["branch_id"],
                {
                    "branch_id": pick["branch_id"],
                    "name": pick["name"],
                    "court_rank": None,
                    "city_rank": None,
                    "total": pick["total"],
                    "compliance": pick["compliance"],
                },
            )
            entry[level] = pick["rank"]
    return sorted(
        entries.values(), key=lambda e: (e["court_rank"] or 10**9, e["city_rank"] or 10**9, e["branch_id"])
    )
