"""Which of a caller's submissions count only once approved (审核): the intake's review policy
(app.state.review_policy, from the rulebook's `[review]` table) applied to the caller's role."""

from collections.abc import Callable

from fastapi import Request

from shared.contracts import Payload
from shared.principal import Principal
from shared.review import REVIEWED_ROLES, ReviewPolicy


def review_of(request: Request, who: Principal) -> Callable[[Payload], bool] | None:
    """For Intake.submit_many: whether each payload of `who` needs review (None: none does)."""
    policy: ReviewPolicy | None = getattr(request.app.state, "review_policy", None)
    if policy is None or who.role not in REVIEWED_ROLES:
        return None
    return lambda payload: policy.needs_review(who, getattr(payload, "kind", None))
