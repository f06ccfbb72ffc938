"""Members' names beside their scores, only for whom may see them (an admin of the member's court,
the secretary of the member's branch): a reader's answer carries none."""

from fastapi import Request

from shared.auth import Principal
from shared.problems import Problem


async def branch_names(request: Request, who: Principal, branch_id: str, year: int) -> dict[str, str]:
    """member_id -> name for the branch's members of `year` whose name `who` may see."""
    directory = getattr(request.app.state, "members", None)
    if directory is None:
        return {}
    try:
        entries = directory.roster_of(year, None, branch_id)
    except Problem:  # the registry is not followed (yet): no names rather than no scores
        return {}
    return await directory.names_for(who, entries)  # type: ignore[no-any-return]
