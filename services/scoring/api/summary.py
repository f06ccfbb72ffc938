"""GET /v1/board/*: what the leaders' board needs at a glance, one request each (registered only).

The courts in the city's order and the years with data; per court a period's figures, who is
behind on the required cadences, and the advanced-branch rule with its quotas; a branch's standing
and a year of monthly scores. Built from the live view and the shared ranking cache, once per data
version and in slices (see computed.py), like the rankings themselves."""

import math
from collections import Counter, OrderedDict
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.scoring.api.computed import Computed, Steps, sliced
from services.scoring.api.rankings import JSON_OPTIONS, Court, Period, RankingQuery
from services.scoring.api.read_model import Branch, MongoReadModel
from services.scoring.core import compliance
from services.scoring.core.periods import month_of, year_of
from services.scoring.core.rulebook import kind_label
from services.scoring.core.scores import per_member
from shared.auth import AuthFirstRoute, Reader
from shared.contracts import ID_PATTERN
from shared.problems import Problem

# Cangzhou's courts as the city lists them (administrative order): the intermediate court first.
CANGZHOU = (
    "cz-zy", "cz-xinhua", "cz-yunhe", "cz-cangxian", "cz-qingxian", "cz-dongguang", "cz-haixing",
    "cz-yanshan", "cz-suning", "cz-nanpi", "cz-wuqiao", "cz-xianxian", "cz-mengcun", "cz-botou",
    "cz-renqiu", "cz-huanghua", "cz-hejian",
)  # fmt: skip
# The stream figures a court leader reads: (key, stream, kind or None for the whole stream, what).
FIGURES = (
    ("visits", "liaison", "visit", "count"),
    ("judicial_suggestions", "liaison", "judicial_suggestion", "count"),
    ("pre_litigation_resolutions", "liaison", "pre_litigation_resolution", "count"),
    ("volunteer_hours", "volunteer", None, "hours"),
    ("training_attendances", "training", None, "count"),
)
BEHIND_MAX = 300  # red and yellow branches listed at most (the counts cover them all)
KIND_PERIODS_KEPT = 6  # periods whose per-ledger kind tallies are kept (see KindMemo)


class BoardSettings(BaseSettings):
    """Read from SCORING_BOARD_*: the city's courts in its own order (a JSON list of court ids)."""

    model_config = SettingsConfigDict(env_prefix="SCORING_BOARD_", extra="ignore")

    court_order: list[str] = list(CANGZHOU)


def court_order(registry: dict[str, Branch], listed: list[str]) -> list[dict[str, Any]]:
    """Registered courts: those the city lists in its order, then any other, intermediate first."""
    courts: dict[str, dict[str, Any]] = {}
    for b in registry.values():
        c = courts.setdefault(b.court, {"court": b.court, "court_name": b.court_name, "branches": 0})
        c["branches"] += 1
        c["court_name"] = c["court_name"] or b.court_name
    place = {court: i for i, court in enumerate(listed)}

    def key(c: dict[str, Any]) -> tuple:
        name = c["court_name"] or c["court"]
        return (place.get(c["court"], len(place)), "中级" not in name, name, c["court"])

    ordered = sorted(courts.values(), key=key)
    for c in ordered:
        c["listed"] = c["court"] in place
    return ordered


def years_with_data(registry: dict[str, Branch], seen: dict[str, dict[tuple[str, str], Any]]) -> list[str]:
    """Years in which a registered branch has scores, newest first."""
    years: set[str] = set()
    for branch_id in registry:
        for _, year in seen.get(branch_id, ()):
            years.add(year)
    return sorted(years, reverse=True)


class _Kind(msgspec.Struct):
    count: int
    hours: float


class _Period(msgspec.Struct):
    kinds: dict[str, _Kind]


class _Ledger(msgspec.Struct):
    """The part of a feed record (services/scoring/core/summary.py) the stream figures read."""

    branch_id: str
    stream: str
    scores: dict[str, _Period]


_KINDS = msgspec.json.Decoder(_Ledger)


class KindMemo:
    """Per ledger, its kind tallies in one period, decoded once per ledger version: a ledger
    summary is replaced (a new object) when it changes, so after some records only those are
    decoded again, not the whole city's."""

    def __init__(self) -> None:
        self._periods: OrderedDict[str, dict[int, tuple[Any, str, str, dict]]] = OrderedDict()

    def steps(self, ledgers: list, period: str) -> Steps[list[tuple[str, str, dict]]]:
        """(branch id, stream, kind -> {count, hours}) of every ledger with scores in `period`."""
        old = self._periods.pop(period, {})
        memo: dict[int, tuple[Any, str, str, dict]] = {}
        for i, x in enumerate(ledgers):
            if i % 256 == 0:
                yield
            if period not in x.periods:
                continue
            hit = old.get(id(x))
            if hit is None or hit[0] is not x:
                record = _KINDS.decode(x.raw)  # only what the figures read; the rest is skipped
                found = record.scores[period].kinds
                kinds = {k: {"count": t.count, "hours": t.hours} for k, t in found.items()}
                hit = (x, record.branch_id, record.stream, kinds)
            memo[id(x)] = hit  # the ledger is held: its id is not reused while the entry lives
        self._periods[period] = memo
        while len(self._periods) > KIND_PERIODS_KEPT:
            self._periods.popitem(last=False)
        return [(b, s, kinds) for _, b, s, kinds in memo.values()]


def _empty_figures() -> dict[str, float]:
    return {key: 0 for key, *_ in FIGURES}


def summary_steps(
    period: str,
    registry: dict[str, Branch],
    courts: list[dict[str, Any]],
    totals: dict[str, float],
    counts: dict[str, dict[str, dict[str, int]]],
    tallies: Steps[list[tuple[str, str, dict]]],
    rulebook: Any,
    today: str,
    judged: dict[str, tuple[Any, int, tuple]],
) -> Steps[dict[str, Any]]:
    """Per court: branches, average and best total, compliance, stream figures; who is behind;
    the advanced rule's quotas. Over registered branches only. `judged` remembers each branch's
    compliance by its counts (replaced, never changed, when records arrive) and members."""
    per: dict[str, dict[str, Any]] = {
        c["court"]: {
            **c,
            "scored": 0,
            "sum": 0.0,
            "best": None,
            "colours": {"green": 0, "yellow": 0, "red": 0},
            "done": 0.0,
            "figures": _empty_figures(),
        }
        for c in courts
    }
    windows = compliance.plan(period, rulebook.cadence, today)
    labels = {kind: kind_label(kind) for kind in rulebook.cadence}
    behind: list[dict[str, Any]] = []
    for i, (branch_id, b) in enumerate(sorted(registry.items())):
        if i % 128 == 0:
            yield
        court = per[b.court]
        total = totals.get(branch_id)
        if total is not None:
            court["scored"] += 1
            court["sum"] += total
            if court["best"] is None or total > court["best"]["total"]:
                court["best"] = {"branch_id": branch_id, "name": b.name, "total": total}
        mine = counts.get(branch_id)
        seen = judged.get(branch_id)
        if seen is None or seen[0] is not mine or seen[1] != b.members:
            seen = judged[branch_id] = (mine, b.members, _judge(mine or {}, windows, b.members, labels))
        colour, share, missing = seen[2]
        court["colours"][colour] += 1
        court["done"] += share
        if missing is not None:
            behind.append(
                {
                    "branch_id": branch_id,
                    "name": b.name,
                    "court": b.court,
                    "colour": colour,
                    "done_share": round(share, 4),
                    "missing": missing,
                }
            )
    for i, (branch_id, stream, kinds) in enumerate((yield from tallies)):
        if i % 512 == 0:
            yield
        owner = registry.get(branch_id)
        if owner is None:
            continue
        figures = per[owner.court]["figures"]
        for key, wanted_stream, wanted_kind, what in FIGURES:
            if stream != wanted_stream:
                continue
            for kind, t in kinds.items():
                if wanted_kind is None or kind == wanted_kind:
                    figures[key] += t[what]
    yield
    out: list[dict[str, Any]] = []
    city: dict[str, Any] = {"branches": 0, "scored": 0, "sum": 0.0, "done": 0.0, "figures": _empty_figures()}
    city["colours"] = {"green": 0, "yellow": 0, "red": 0}
    for c in per.values():
        n = c["branches"]
        for key in ("branches", "scored", "sum", "done"):
            city[key] += c[key]
        for colour, k in c["colours"].items():
            city["colours"][colour] += k
        for key, v in c["figures"].items():
            city["figures"][key] += v
        out.append(_court_out(c, n))
    city_best = max((c["best"] for c in per.values() if c["best"]), key=lambda x: x["total"], default=None)
    place = {c["court"]: i for i, c in enumerate(courts)}
    rank = {"red": 0, "yellow": 1}
    behind.sort(key=lambda x: (rank[x["colour"]], place[x["court"]], x["done_share"], x["branch_id"]))
    rule = rulebook.advanced
    registered = len(registry)
    return {
        "period": period,
        "as_of_month": today,
        "rulebook_version": rulebook.version,
        "courts": out,
        "city": _court_out({**city, "best": city_best, "court": None, "court_name": None}, registered),
        "behind": behind,  # all of them: a response lists at most BEHIND_MAX (see `_behind`)
        "advanced": {
            "min_compliance": rule.min_compliance,
            "court_share": rule.court_share,
            "city_share": rule.city_share,
            "registered": registered,
            "city_quota": _quota(registered, rule.city_share),
            "court_quotas": {c["court"]: _quota(c["branches"], rule.court_share) for c in courts},
            "court_branches": {c["court"]: c["branches"] for c in courts},
        },
    }


def _judge(
    counts: dict[str, dict[str, int]], windows: list[compliance.Window], members: int, labels: dict[str, str]
) -> tuple[str, float, list[dict[str, Any]] | None]:
    """A branch's colour, share done and, unless green, what it missed: per kind, its windows
    overdue and still due."""
    dones = compliance.done_counts(counts, windows)
    tally = compliance.tally(windows, dones, members)
    if tally.colour == "green":
        return tally.colour, tally.done_share, None
    missing: dict[str, dict[str, Any]] = {}
    for w, n in zip(windows, dones, strict=True):
        item = compliance.judge(w, n, members)
        if item.status != "done":
            entry = missing.setdefault(
                item.kind, {"kind": item.kind, "label": labels[item.kind], "overdue": [], "due": []}
            )
            entry[item.status].append(item.window)
    return tally.colour, tally.done_share, list(missing.values())


def _behind(behind: list[dict[str, Any]], court: str | None) -> dict[str, Any]:
    """The red and yellow branches (of one court, if given): counted all, listed up to BEHIND_MAX."""
    mine = [x for x in behind if x["court"] == court] if court else behind
    return {
        "red": sum(x["colour"] == "red" for x in mine),
        "yellow": sum(x["colour"] == "yellow" for x in mine),
        "branches": mine[:BEHIND_MAX],
    }


def _quota(branches: int, share: float) -> int:
    """As services.scoring.core.advanced rounds it: up, at least one of a non-empty pool."""
    return max(1, math.ceil(branches * share)) if branches else 0


def _court_out(c: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "court": c["court"],
        "court_name": c["court_name"],
        "listed": c.get("listed", True),
        "branches": n,
        "scored": c["scored"],
        "average": round(c["sum"] / n, 4) if n else 0.0,  # every registered branch, 0 without scores
        "best": c["best"],
        "colours": c["colours"],
        "compliance": round(c["done"] / n, 4) if n else 1.0,
        "figures": {k: round(v, 2) for k, v in c["figures"].items()},
    }


def rank_among(values: dict[str, float], ids: Any, mine: float) -> int:
    """Competition rank of `mine` among the scores of `ids` (to 4 decimals, as rankings tie)."""
    mine = round(mine, 4)
    return 1 + sum(1 for b in ids if (v := values.get(b)) is not None and round(v, 4) > mine)


def trend_steps(
    rows: dict[str, list[dict[str, Any]]], ids: list[str], registry: dict[str, Branch], rulebook: Any
) -> Steps[dict[str, list[float | None]]]:
    """Per year, per month: the average total per member of `ids` (every one counted, 0 without
    scores); None for a month in which none of the city's branches asked for has scores."""
    series: dict[str, list[float | None]] = {}
    for year, months in rows.items():
        out: list[float | None] = []
        for month_rows in months:
            if not month_rows:
                out.append(None)
                continue
            total = 0.0
            for i, b in enumerate(ids):
                if i % 256 == 0:
                    yield
                if (p := month_rows.get(b)) is not None:
                    total += per_member(p.points, registry[b].members, rulebook)["total"]
            out.append(round(total / len(ids), 4) if ids else None)
        series[year] = out
    return series


def summary_router(city: str, settings: BoardSettings | None = None) -> APIRouter:
    settings = settings or BoardSettings()
    router = APIRouter(tags=["board"], route_class=AuthFirstRoute)
    computed: Computed[dict[str, Any]] = Computed(max_entries=16, min_age_s=1.0, fresh_wait_s=2.0)
    kinds = KindMemo()
    judged: dict[tuple, tuple[Any, dict]] = {}  # (period, month of today, rulebook) -> (rulebook, memo)

    def model(request: Request) -> MongoReadModel:
        return request.app.state.read_model

    async def ranking_values(request: Request, period: str, court: str | None = None) -> dict[str, float]:
        q = RankingQuery(period, "total", court, 1, False)
        return (await request.app.state.rankings.full(model(request), q)).values

    @router.get("/v1/board/courts", summary="The city's courts in its order, and the years with data")
    async def courts(request: Request, _: Reader) -> Response:
        registry = await model(request).branches()
        now = request.app.state.clock()
        names = Counter(b.name for b in registry.values())
        body = {
            "city": city,
            "current_year": month_of(now)[:4],
            "repeated_names": sorted(n for n, k in names.items() if k > 1),
            "years": years_with_data(registry, model(request).view().seen),
            "courts": court_order(registry, settings.court_order),
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get(
        "/v1/board/summary",
        summary="Per court: scores, compliance, stream figures; who is behind (of one court, if given)",
    )
    async def summary(request: Request, _: Reader, period: Period, court: Court = None) -> Response:
        m = model(request)
        today = month_of(request.app.state.clock())
        totals = await ranking_values(request, period)
        registry = await m.registry_for(period)
        view = m.view()
        year = year_of(period)
        version = (*m.version(period, view), view.versions.get(year, 0), today, id(totals))

        def snapshot() -> Steps[dict[str, Any]]:
            ledgers, counts, rulebook = view.ledgers(), view.training(year), m.rulebook(view)
            courts = court_order(registry, settings.court_order)
            tallies = kinds.steps(ledgers, period)
            memo = judged.setdefault((period, today, id(rulebook)), (rulebook, {}))[1]
            while len(judged) > KIND_PERIODS_KEPT:  # the rulebook is kept in the entry: its id is not reused
                judged.pop(next(iter(judged)))
            return summary_steps(period, registry, courts, totals, counts, tallies, rulebook, today, memo)

        found = await computed.get(period, version, snapshot)
        body = {**found, "court": court, "behind": _behind(found["behind"], court)}
        if court:  # that court's figures only: a reader bound to a court sees no other's
            a = found["advanced"]
            body["courts"] = [c for c in found["courts"] if c["court"] == court]
            body["city"] = None
            body["advanced"] = {
                **a,
                "court_quotas": {court: a["court_quotas"].get(court, 0)},
                "court_branches": {court: a["court_branches"].get(court, 0)},
            }
        return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")

    @router.get("/v1/board/branches/{branch_id}", summary="A branch's rank in its court and city")
    async def standing(
        request: Request,
        _: Reader,
        period: Period,
        branch_id: Annotated[str, Path(pattern=ID_PATTERN)],
    ) -> Response:
        registry = await model(request).branches()
        branch = registry.get(branch_id)
        if branch is None:
            raise Problem(404, "Not Found", f"no registered branch {branch_id}")
        values = await ranking_values(request, period)
        ids = await model(request).court_branches(branch.court)
        mine = values.get(branch_id)
        court_scores = [values.get(b, 0.0) for b in ids]
        body = {
            "branch_id": branch_id,
            "court": branch.court,
            "period": period,
            "total": mine,
            "city_rank": rank_among(values, values, mine) if mine is not None else None,
            "city_ranked": len(values),
            "court_rank": rank_among(values, ids, mine) if mine is not None else None,
            "court_ranked": sum(1 for b in ids if b in values),
            "court_branches": len(ids),
            "court_average": round(sum(court_scores) / len(ids), 4) if ids else 0.0,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/v1/board/trend", summary="Month by month over a year: a branch's or a court's score")
    async def trend(
        request: Request,
        _: Reader,
        year: Annotated[str, Query(pattern=r"^[0-9]{4}$")],
        branch: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        court: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    ) -> Response:
        if (branch is None) == (court is None):
            raise Problem(422, "Unprocessable Content", "name exactly one of branch and court")
        registry = await model(request).branches()
        if branch is not None and branch not in registry:
            raise Problem(404, "Not Found", f"no registered branch {branch}")
        if court is not None and not await model(request).court_branches(court):
            raise Problem(404, "Not Found", f"no registered court {court}")
        where = court or registry[branch].court  # type: ignore[index]
        ids = await model(request).court_branches(where)
        view = model(request).view()
        rulebook = model(request).rulebook(view)
        # Snapshots taken here, on the loop; the sums run in slices.
        rows = {y: [view.rows(f"{y}-{m:02d}", ids) for m in range(1, 13)] for y in (year, str(int(year) - 1))}
        steps = trend_steps(rows, [branch] if branch else ids, registry, rulebook)
        series = await sliced(steps)
        body = {"year": year, "branch": branch, "court": where, "series": series}
        return Response(orjson.dumps(body), media_type="application/json")

    return router
