"""The demo finalises 2022 (考核结果公示): once the scoring worker has caught up with the load, every
demo court's year is frozen as a version (POST /v1/finalisations), idempotently."""

import asyncio
import hashlib
import time

import httpx
import orjson

from tools.demo.city import build_city
from tools.demo.target import Target

YEAR = "2022"


class NotSettled(Exception):
    """The 2022 ranking and grades were still changing at the deadline: nothing was frozen."""


async def _fingerprint(client: httpx.AsyncClient, where: Target) -> str:
    """A digest of what a finalisation freezes: the year's ranking and its members' grades."""
    digest = hashlib.sha256()
    reads: tuple[tuple[str, dict[str, str]], ...] = (
        ("/v1/rankings", {"period": YEAR, "limit": "1000"}),
        ("/v1/grades", {"year": YEAR}),
    )
    for path, params in reads:
        r = await client.get(f"{where.url('scoring')}{path}", params=params)
        r.raise_for_status()
        body = r.json()
        body.pop("data_as_of", None)  # moves with any record of any year
        if path == "/v1/grades":
            body = [(m["member_id"], m["branch_id"], m["grade"], m["score"]) for m in body["members"]]
        else:
            body = [(row["branch_id"], row["scores"]) for row in body["rows"]]
        digest.update(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


async def settle(client: httpx.AsyncClient, where: Target, quiet_s: float, deadline_s: float) -> None:
    """Wait until the 2022 ranking and grades have not changed for `quiet_s` (the worker is through
    the load: scoring is asynchronous, and a frozen half-scored year would be a wrong version)."""
    began = time.monotonic()
    last, since = None, began
    while True:
        now_print = await _fingerprint(client, where)
        now = time.monotonic()
        if now_print != last:
            last, since = now_print, now
        elif now - since >= quiet_s:
            return
        if now - began > deadline_s:
            raise NotSettled(f"the {YEAR} ranking and grades still changed after {deadline_s:.0f}s")
        await asyncio.sleep(min(5.0, quiet_s / 3))


async def finalise_courts(client: httpx.AsyncClient, where: Target, courts: list[str]) -> dict[str, str]:
    """court -> what became of it: "version N" (frozen now), "unchanged" (its latest version
    already says the same: 409 nothing changed) or the refusal (e.g. nothing to freeze)."""
    done = {}
    for court in courts:
        r = await client.post(f"{where.url('scoring')}/v1/finalisations", json={"year": YEAR, "court": court})
        if r.status_code == 201:
            done[court] = f"version {r.json()['version']}"
        elif r.status_code == 409 and "nothing changed" in r.json().get("detail", ""):
            done[court] = "unchanged"
        else:
            done[court] = f"HTTP {r.status_code}: {r.json().get('detail', r.text) if r.content else ''}"
    return done


async def finalise_demo(where: Target, quiet_s: float = 15, deadline_s: float = 2400) -> tuple[str, bool]:
    """Wait for the worker, then finalise 2022 for every demo court; the line to print, and
    whether every court has its version."""
    courts = [c.court_id for c in build_city().courts]
    headers = {"Authorization": f"Bearer {where.admin_token}"}
    async with httpx.AsyncClient(headers=headers, timeout=120) as client:
        await settle(client, where, quiet_s, deadline_s)
        done = await finalise_courts(client, where, courts)
    frozen = sum(v.startswith("version") for v in done.values())
    unchanged = sum(v == "unchanged" for v in done.values())
    refused = {c: v for c, v in done.items() if not v.startswith("version") and v != "unchanged"}
    line = f"{YEAR} finalised for {len(courts)} courts: {frozen} new versions, {unchanged} unchanged"
    return line + (f"; refused: {refused}" if refused else ""), not refused
