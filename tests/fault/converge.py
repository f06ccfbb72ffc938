"""Waits, with a deadline, until the scoring API answers what the recompute of the ledger says:
stats of the scenario's court, its court-filtered ranking and every branch's breakdown."""

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from services.scoring.core.rulebook import Rulebook
from tests.fault import expected as exp
from tests.fault.workload import Workload

YEAR = "2024"
TOLERANCE = 1.5e-4  # scores are rounded to 4 decimals on both sides; sums may differ in the last bit


@dataclass
class Convergence:
    """The last comparison: differences (empty once converged), records the API counts, when."""

    differences: list[str] = field(default_factory=list)
    counted: int | None = None
    seconds: float = 0.0


def _close(a: float, b: float, tolerance: float = 1e-6) -> bool:
    return abs(a - b) <= tolerance


def stats_differences(want: dict[str, dict], got: dict) -> list[str]:
    diffs = []
    streams = got.get("streams", {})
    for stream in sorted(set(want) | set(streams)):
        w, g = want.get(stream, {"records": 0, "hours": 0.0, "kinds": {}}), streams.get(stream)
        if g is None:
            diffs.append(f"stats {stream}: missing, want {w['records']} records")
            continue
        if g["records"] != w["records"] or not _close(g["hours"], w["hours"], 0.011):
            diffs.append(
                f"stats {stream}: {g['records']} records {g['hours']} h, want {w['records']} {w['hours']}"
            )
        for kind, (count, hours) in w["kinds"].items():
            k = g["kinds"].get(kind, {"count": 0, "hours": 0.0})
            if k["count"] != count or not _close(k["hours"], hours, 0.011):
                diffs.append(f"stats {stream}/{kind}: {k['count']} ({k['hours']} h), want {count} ({hours})")
    return diffs


def ranking_differences(want: dict[str, dict], rows: list[dict]) -> list[str]:
    got = {r["branch_id"]: r for r in rows}
    diffs = [f"ranking: {b} missing" for b in want if b not in got]
    diffs += [f"ranking: {b} not in the ledger" for b in got if b not in want]
    for b in set(want) & set(got):
        w, g = want[b], got[b]
        off = {
            k: (g["scores"].get(k), v)
            for k, v in w["scores"].items()
            if not _close(g["scores"].get(k, -1), v, TOLERANCE)
        }
        if g["rank"] != w["rank"] or off:
            diffs.append(f"ranking {b}: rank {g['rank']} want {w['rank']}; scores (got, want) {off}")
    return diffs


def breakdown_differences(branch: str, want: dict, got: dict) -> list[str]:
    lines = {(k["stream"], k["kind"]): (k["count"], k["hours"], k["points"]) for k in got.get("kinds", [])}
    diffs = []
    for key in sorted(set(want["kinds"]) | set(lines)):
        w, g = want["kinds"].get(key, (0, 0.0, 0.0)), lines.get(key, (0, 0.0, 0.0))
        if w[0] != g[0] or not _close(w[1], g[1]) or not _close(w[2], g[2]):
            diffs.append(f"breakdown {branch} {key}: (count, hours, points) {g}, want {w}")

    def caps(items: list[dict]) -> list[tuple]:
        return sorted((c["month"], c["member_id"], c["dimension"], round(c["points"], 6)) for c in items)

    if caps(got.get("caps_hit", [])) != caps(want["caps_hit"]):
        diffs.append(f"breakdown {branch}: caps hit {got.get('caps_hit')}, want {want['caps_hit']}")
    return diffs


class ScoringView:
    """Reads the scoring API at `url` for one workload's court and branches."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, reader: str, workload: Workload, rulebook: Rulebook
    ):
        self._client, self._url, self._workload, self._rulebook = client, url, workload, rulebook
        self._headers = {"Authorization": f"Bearer {reader}"}

    async def _get(self, path: str, **params: str | int) -> dict:
        r = await self._client.get(f"{self._url}{path}", params=params, headers=self._headers)
        r.raise_for_status()
        return r.json()

    async def compare(self, want: exp.Expected) -> Convergence:
        """One round: stats and ranking first, the breakdowns only once those agree."""
        court = self._workload.court
        try:
            got_stats = await self._get(
                "/v1/stats", **{"from": f"{YEAR}-01", "to": f"{YEAR}-12", "court": court}
            )
            counted = sum(s["records"] for s in got_stats["streams"].values())
            diffs = stats_differences(exp.stats(want, YEAR), got_stats)
            ranking = await self._get("/v1/rankings", period=YEAR, dimension="total", court=court, limit=1000)
            diffs += ranking_differences(
                exp.ranking(want, self._workload.branches, YEAR, self._rulebook), ranking["rows"]
            )
            if not diffs:
                for branch in self._workload.branches:
                    got = await self._get(f"/v1/branches/{branch}/score", period=YEAR)
                    diffs += breakdown_differences(branch, exp.breakdown(want, branch, YEAR), got)
        except (httpx.HTTPError, ValueError, KeyError) as err:
            return Convergence([f"scoring API: {type(err).__name__}: {err}"])
        return Convergence(diffs, counted)

    async def converge(self, want: exp.Expected, since: float, deadline_s: float = 120) -> Convergence:
        """Compare until nothing differs or the deadline passes; `seconds` counts from `since`."""
        end = time.monotonic() + deadline_s
        while True:
            result = await self.compare(want)
            result.seconds = round(time.monotonic() - since, 2)
            if not result.differences or time.monotonic() > end:
                return result
            await asyncio.sleep(0.5)
