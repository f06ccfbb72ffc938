"""PUT/GET/DELETE /v1/subscriptions/{id} (admin of the court, or the city) and POST /v1/reminders:run."""

import asyncio
import socket
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from services.scoring.reminders.allowlist import Allowlist, NotAllowed, check, destination, ip_literal
from services.scoring.reminders.rules import DIGEST, DUE, OVERDUE
from services.scoring.reminders.scheduler import NotLeader, Scheduler
from services.scoring.reminders.subscriptions import Subscription, SubscriptionStore
from shared.audit import audit
from shared.auth import ADMIN, Admin, AuthFirstRoute, require_branch, require_court, scope_check
from shared.contracts import ID_PATTERN, LINE_PATTERN, Contract
from shared.kafka import BrokerUnavailable
from shared.principal import Principal
from shared.problems import Problem

# The organisation is the subscription's scope (in the body, or stored): checked by the route.
CourtOrCityAdmin = Annotated[Principal, Security(scope_check(ADMIN, org="body"), scopes=[ADMIN])]
SubscriptionId = Annotated[str, Path(pattern=ID_PATTERN, examples=["zy-civil-1-wecom"])]
EventName = Literal["reminder.due", "reminder.overdue", "reminder.digest"]
RESOLVE_TIMEOUT_S = 5.0


class Scope(Contract):
    court: Annotated[str | None, Field(pattern=ID_PATTERN, examples=["cz-zy"])] = None
    branch: Annotated[str | None, Field(pattern=ID_PATTERN, examples=["zy-civil-1"])] = None

    @model_validator(mode="after")
    def _one(self) -> "Scope":
        if (self.court is None) == (self.branch is None):
            raise ValueError("name exactly one of court and branch")
        return self


class SubscriptionIn(Contract):
    url: Annotated[
        str,
        Field(min_length=8, max_length=2000, pattern=LINE_PATTERN, examples=["https://hooks.example.org/x"]),
    ]
    events: Annotated[list[EventName], Field(min_length=1, max_length=3, examples=[[DUE, OVERDUE, DIGEST]])]
    scope: Scope
    format: Literal["json", "wecom", "dingtalk"] = "json"
    secret: Annotated[
        str | None,
        Field(
            min_length=16,
            max_length=200,
            pattern=LINE_PATTERN,
            description="json: the HMAC key (required); dingtalk: the robot's signing secret; wecom: none",
        ),
    ] = None

    @model_validator(mode="after")
    def _secret(self) -> "SubscriptionIn":
        if self.format == "json" and not self.secret:
            raise ValueError("a json subscription needs a secret (its deliveries are signed)")
        if self.format == "wecom" and self.secret:
            raise ValueError("a wecom robot takes no secret: its key is in the URL")
        return self


class SubscriptionOut(BaseModel):
    id: str
    url: str = Field(description="the query's values masked: robots' keys and tokens are secrets")
    events: list[str]
    scope: dict[str, str]
    format: str
    secret_set: bool


class RunOut(BaseModel):
    today: date
    published: list[str] = Field(description="ids of the reminders this run published")
    already: int = Field(description="reminders owed today that an earlier run published")


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(f"{pair.partition('=')[0]}=***" for pair in parts.query.split("&"))
    return urlunsplit(parts._replace(query=query))


def _out(sub: Subscription) -> SubscriptionOut:
    scope = {"court": sub.court} if sub.court is not None else {"branch": sub.branch or ""}
    return SubscriptionOut(
        id=sub.id,
        url=_masked(sub.url),
        events=list(sub.events),
        scope=scope,
        format=sub.format,
        secret_set=bool(sub.secret),
    )


async def allowed_url(allow: Allowlist, url: str) -> None:
    """422 unless the URL is http(s) and every address its host resolves to now is allowed (the
    deliverer checks again at each delivery: DNS may change)."""
    try:
        host, port = destination(url)
        if (literal := ip_literal(host)) is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
            )
            addresses = [a for info in infos if (a := ip_literal(str(info[4][0]))) is not None]
        check(allow, host, addresses)
    except NotAllowed as err:
        raise Problem(422, "Unprocessable Content", f"url: {err}") from None
    except (OSError, TimeoutError):
        raise Problem(422, "Unprocessable Content", "url: its host does not resolve") from None


async def _reach(request: Request, who: Principal, court: str | None, branch: str | None) -> None:
    """403 unless the caller administers the subscription's court (or branch's court), or the city."""
    if branch is not None:
        await require_branch(request, who, branch, writing=True)
    elif court is not None:
        require_court(who, court)


def reminders_router(store: SubscriptionStore, scheduler: Scheduler, allow: Allowlist) -> APIRouter:
    router = APIRouter(tags=["reminders"], route_class=AuthFirstRoute)

    async def found(request: Request, who: Principal, sub_id: str) -> Subscription:
        sub = await store.get(sub_id)
        if sub is None:
            raise Problem(404, "Not Found", f"no subscription {sub_id}")
        await _reach(request, who, sub.court, sub.branch)
        return sub

    @router.put(
        "/v1/subscriptions/{subscription_id}",
        response_model=SubscriptionOut,
        summary="Register or replace a webhook subscription to reminders (admin of its court)",
    )
    async def put_subscription(
        subscription_id: SubscriptionId, body: SubscriptionIn, request: Request, who: CourtOrCityAdmin
    ) -> SubscriptionOut:
        court, branch = body.scope.court, body.scope.branch
        await _reach(request, who, court, branch)
        if (old := await store.get(subscription_id)) is not None:  # nobody takes over another's
            await _reach(request, who, old.court, old.branch)
        await allowed_url(allow, body.url)
        events = tuple(body.events)
        sub = Subscription(subscription_id, body.url, events, court, branch, body.format, body.secret)
        await audit(request, who, "subscription.put", subscription_id, court, branch)  # before the change
        await store.put(sub)
        return _out(sub)

    @router.get(
        "/v1/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription"
    )
    async def get_subscription(
        subscription_id: SubscriptionId, request: Request, who: CourtOrCityAdmin
    ) -> SubscriptionOut:
        return _out(await found(request, who, subscription_id))

    @router.delete(
        "/v1/subscriptions/{subscription_id}", status_code=204, summary="Remove a webhook subscription"
    )
    async def delete_subscription(
        subscription_id: SubscriptionId, request: Request, who: CourtOrCityAdmin
    ) -> Response:
        sub = await found(request, who, subscription_id)
        await audit(request, who, "subscription.delete", subscription_id, sub.court, sub.branch)
        await store.delete(subscription_id)
        return Response(status_code=204)

    @router.post(
        "/v1/reminders:run",
        response_model=RunOut,
        summary="Run the reminder schedule now (admin of the city); publishes nothing twice",
        responses={503: {"description": "the schedule is held by another process, or the broker is away"}},
    )
    async def run_reminders(
        request: Request,
        _: Admin,
        today: Annotated[
            str | None,
            Query(
                pattern=r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$",
                description="the day to judge (Asia/Shanghai); default today",
                examples=["2024-03-28"],
            ),
        ] = None,
    ) -> RunOut:
        try:
            day = date.fromisoformat(today) if today else scheduler.today()
        except ValueError:
            raise Problem(422, "Unprocessable Content", f"today: {today} is not a date") from None
        try:
            report = await scheduler.run(day)
        except (NotLeader, BrokerUnavailable) as err:
            raise Problem(503, "Service Unavailable", str(err), headers={"Retry-After": "5"}) from None
        return RunOut(today=report.today, published=report.published, already=report.already)

    return router
