"""The whole demo dataset: the organisation tree and every record, each with a deterministic id."""

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from tools.demo import VERSION
from tools.demo.city import Branch, City, build_city
from tools.demo.enterprises import build_enterprises
from tools.demo.examination import examination, registry
from tools.demo.liaison import contacts
from tools.demo.training import completions
from tools.demo.volunteer import deployments

STREAMS = ("volunteer", "liaison", "training")
TIME_FIELDS = {"volunteer": "started_at", "liaison": "occurred_at", "training": "completed_at"}


@dataclass(frozen=True)
class Dataset:
    version: str
    scale: int
    city: City
    records: dict[str, list[dict]]  # stream -> records ready to post, "id" first
    # The yearly examination (demo scale only): the training service's resources -> records
    # (evaluations, appraisals), and the member registry (member id, PUT /v1/members body).
    exam: dict[str, list[dict]]
    registry: list[tuple[str, dict]]

    @property
    def key(self) -> str:
        """What the marker in MongoDB files this dataset under."""
        return f"x{self.scale}"

    def size(self) -> int:
        return sum(len(r) for r in self.records.values())

    def totals(self, months: tuple[str, str] = ("2022-01", "2022-12")) -> dict[str, Counter[str]]:
        """Records per stream and kind whose time falls in the months (local time), as /v1/stats counts."""
        return {
            stream: Counter(
                r["kind"] for r in records if months[0] <= r[TIME_FIELDS[stream]][:7] <= months[1]
            )
            for stream, records in self.records.items()
        }


def generate(scale: int = 1) -> Dataset:
    """The dataset at `scale` (1: the demo; N: N times the branches, members and records)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    city = build_city(scale)
    raw = {
        "volunteer": deployments(city, scale),
        "liaison": contacts(city, build_enterprises(), scale),
        "training": completions(city, scale),
    }
    ns = "" if scale == 1 else f"x{scale}-"
    # Benchmarks (scale > 1) post the three streams only: the examination is the demo's.
    exam, members = (examination(city), registry(city)) if scale == 1 else ({}, [])
    records = {s: numbered(f"demo-{ns}{s}", raw[s], TIME_FIELDS[s]) for s in STREAMS}
    return Dataset(VERSION, scale, city, records, exam, members)


def numbered(prefix: str, records: list[dict], time_field: str) -> list[dict]:
    """In time order (stable, so ties keep the generator's order), ids `<prefix>-000001` onwards."""
    ordered = sorted(records, key=lambda r: r[time_field])
    return [{"id": f"{prefix}-{n:06d}", **r} for n, r in enumerate(ordered, start=1)]


def branch_body(branch: Branch) -> dict:
    """The registry entry of a branch, as PUT /v1/branches/{id} takes it."""
    return {
        "name": branch.name,
        "court": branch.court.court_id,
        "court_name": branch.court.name,
        "members": branch.members,
    }


def jsonl(dataset: Dataset) -> Iterator[str]:
    """One line per record: {"stream": ..., "record": {...}}, stream by stream."""
    for stream in STREAMS:
        for record in dataset.records[stream]:
            yield json.dumps({"stream": stream, "record": record}, ensure_ascii=False, sort_keys=True)


def fingerprint(dataset: Dataset) -> str:
    """A hash of everything the loader sends: equal fingerprints, equal data."""
    digest = hashlib.sha256()
    for branch in dataset.city.branches:
        digest.update(json.dumps([branch.branch_id, branch_body(branch)], sort_keys=True).encode())
    for line in jsonl(dataset):
        digest.update(line.encode())
    if dataset.exam or dataset.registry:  # so the fingerprint of a dataset without them stays as it was
        digest.update(json.dumps([dataset.exam, dataset.registry], sort_keys=True).encode())
    return digest.hexdigest()
