"""Probe branches for the live-latency run: a court of their own per run, one member registered
each (so a score is a count), one fixed-points kind per stream, a new member on every record (no
monthly cap applies) and every record dated in one month of the bench year."""

import functools
from dataclasses import dataclass

from bench.dataset import YEAR, demo

MONTH = f"{YEAR}-12"
# stream -> (kind, the dimension it scores, points per record, the fields that make it so)
KINDS = {
    "volunteer": ("tianping_volunteer_team", "people", 1.0, {"hours": 2}),  # 0.5 a hour
    "liaison": ("visit", "service", 1.0, {}),
    "training": ("lecture_hall", "team", 2.0, {}),
}
TIME_FIELDS = {"volunteer": "started_at", "liaison": "occurred_at", "training": "completed_at"}


@functools.cache
def template(stream: str) -> dict:
    """The first demo record of the stream's probe kind, without its id and note."""
    kind = KINDS[stream][0]
    found = next(r for r in demo().records[stream] if r["kind"] == kind)
    return {key: v for key, v in found.items() if key not in ("id", "note")}


@dataclass(frozen=True)
class Probe:
    branch_id: str
    stream: str

    def record(self, run: str, k: int) -> dict:
        """The k-th record of this branch in this run, built on a demo record of the kind."""
        record = template(self.stream) | KINDS[self.stream][3]
        record |= {"id": f"{self.branch_id}-{k:05d}", "member_id": f"{self.branch_id}-m{k:05d}"}
        record["branch_id"] = self.branch_id
        record[TIME_FIELDS[self.stream]] = f"{MONTH}-{k % 28 + 1:02d}T10:00:00+08:00"
        if self.stream == "training":
            record["session_id"] = f"lecture-{self.branch_id}-{MONTH}"
        return record

    def count(self, scores: dict[str, float]) -> int:
        """How many of its records a ranking row's per-member scores add up to (one member)."""
        _, dimension, points, _ = KINDS[self.stream]
        return round(scores.get(dimension, 0.0) / points)


def probes(run: str, count: int) -> tuple[str, list[Probe]]:
    """The run's court id and its probe branches, streams taken in turn."""
    court = f"benchlive-{run}"
    streams = list(KINDS)
    return court, [Probe(f"{court}-{i:03d}", streams[i % 3]) for i in range(count)]


def registry_body(court: str, probe: Probe) -> dict:
    return {"name": f"压测探针{probe.branch_id[-3:]}", "court": court, "court_name": "压测探针", "members": 1}
