"""The bench year 2025: the demo's city copied `copies` times (125: 10,000 branches), and records
sampled from the demo year's records and moved onto those copies (their branch, a member of it,
the same day of 2025). Deterministic: the same sizes give the same records on every machine."""

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from shared.contracts import (
    Contract,
    LiaisonContactMade,
    Stream,
    TrainingCompleted,
    VolunteerDeployed,
    build_event,
)
from tools.demo.city import build_city
from tools.demo.dataset import TIME_FIELDS, Dataset, branch_body, generate

YEAR = "2025"
MODELS: dict[str, type[Contract]] = {
    "volunteer": VolunteerDeployed,
    "liaison": LiaisonContactMade,
    "training": TrainingCompleted,
}


@dataclass(frozen=True)
class BenchBranch:
    branch_id: str
    court: str
    members: int
    body: dict  # the registry entry, as PUT /v1/branches/{id} takes it


@dataclass(frozen=True)
class BenchCity:
    prefix: str  # of every branch and court id: b<copies>-
    copies: int
    branches: dict[str, BenchBranch]

    def copy_of(self, template_branch: str, copy: int) -> BenchBranch:
        return self.branches[f"{self.prefix}{template_branch}{'' if copy == 1 else f'-{copy}'}"]


@functools.cache
def demo() -> Dataset:
    return generate(1)


@functools.cache
def bench_city(copies: int) -> BenchCity:
    """The demo's city `copies` times over, under ids b<copies>-… and court names marked 压测."""
    prefix, ns = f"b{copies}-", "" if copies == 1 else f"x{copies}-"
    branches = {}
    for b in build_city(copies).branches:
        branch_id = prefix + b.branch_id.removeprefix(ns)
        court = prefix + b.court.court_id.removeprefix(ns)
        name = b.name.replace(f"（×{copies}）", "")
        body = branch_body(b) | {
            "name": name,
            "court": court,
            "court_name": b.court.name.split("（")[0] + "（压测）",
        }
        branches[branch_id] = BenchBranch(branch_id, court, b.members, body)
    return BenchCity(prefix, copies, branches)


@functools.cache
def demo_courts() -> dict[str, str]:
    return {b.branch_id: b.court.court_id for b in demo().city.branches}


def moved(city: BenchCity, stream: str, template: dict, copy: int, year: str = YEAR) -> dict:
    """A demo record moved to copy `copy` of its branch, to a member of it and into `year`."""
    courts = demo_courts()
    target = city.copy_of(template["branch_id"], copy)
    record = {k: v for k, v in template.items() if k != "id"}
    member = int(template["member_id"].rpartition("-m")[2])
    record["branch_id"] = target.branch_id
    record["member_id"] = f"{target.branch_id}-m{(member - 1) % target.members + 1:02d}"
    time_field = TIME_FIELDS[stream]
    record[time_field] = year + record[time_field][4:]
    if session := record.get("session_id"):
        origin, court = template["branch_id"], courts[template["branch_id"]]
        session = session.replace(origin, target.branch_id) if origin in session else session
        session = session.replace(court, target.court) if target.court not in session else session
        record["session_id"] = session.replace("2022", year)
    return record


def sample(
    city: BenchCity, count: int, id_prefix: str, streams: tuple[str, ...] | None = None, year: str = YEAR
) -> Iterator[tuple[str, dict]]:
    """`count` (stream, record) pairs, ids `<id_prefix>-0000001`…, drawn from the demo's records; the
    first n are the same whatever the count, so a larger fill extends a smaller one."""
    templates = [(s, r) for s, rs in demo().records.items() if not streams or s in streams for r in rs]
    rng = random.Random(f"bench:{city.copies}:{id_prefix}")  # reproducible, not secret
    for n in range(1, count + 1):
        stream, template = rng.choice(templates)
        record = moved(city, stream, template, rng.randint(1, city.copies), year)
        yield stream, {"id": f"{id_prefix}-{n:07d}", **record}


def envelope(stream: str, record: dict, accepted_at: datetime) -> tuple[str, bytes]:
    """(key, value) as the intake services publish it: the CloudEvent keyed by branch id."""
    payload = MODELS[stream].model_validate({k: v for k, v in record.items() if k != "id"})
    event = build_event(record["id"], stream, Stream(stream), payload, accepted_at)  # type: ignore[arg-type]
    return event.subject, event.model_dump_json().encode()
