"""What a fault scenario sends: fresh branches of a fresh court, and a mix of records dated 2024."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tests.conftest import new_id
from tests.support import completion, contact, deployment

CST = timezone(timedelta(hours=8))
SERVICES = ("volunteer", "liaison", "training")
DEPLOYMENT_KINDS = (
    "tianping_volunteer_team",
    "community_dual_report",
    "judge_workstation",
    "legal_publicity",
)
CONTACT_KINDS = ("visit", "judicial_suggestion", "pre_litigation_resolution", "symposium")
TRAINING_KINDS = ("lecture_hall", "party_lecture", "rotation_training", "speech_contest")


@dataclass(frozen=True)
class Item:
    """One unit of work for a sender: a single post (one record) or a batch post, of one service."""

    service: str
    records: tuple[dict, ...]
    batch: bool = False


@dataclass
class Workload:
    """A scenario's own court and branches (each with a member count), and a seeded record maker."""

    court: str = field(default_factory=lambda: new_id("court"))
    branches: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def fresh(cls, branches: int = 8) -> "Workload":
        w = cls()
        w.branches = {new_id("b"): w.rng.randint(3, 8) for _ in range(branches)}
        return w

    def record(self, service: str) -> dict:
        """One valid record of `service` with an id of its own, by a member of one of the branches."""
        rng = self.rng
        branch = rng.choice(list(self.branches))
        member = f"{branch}-m{rng.randint(1, self.branches[branch])}"
        at = datetime(2024, rng.randint(1, 12), rng.randint(1, 28), rng.randint(8, 18), tzinfo=CST)
        if service == "volunteer":
            body = deployment(branch, at, hours=rng.choice((1, 1.5, 2, 3, 4)), member_id=member)
            body["kind"] = rng.choice(DEPLOYMENT_KINDS)
        elif service == "liaison":
            body = contact(branch, at, kind=rng.choice(CONTACT_KINDS), member_id=member)
        else:
            kind = rng.choice(TRAINING_KINDS)
            # A session of its own per record: every acknowledged record then counts once.
            body = completion(branch, at, kind, new_id(kind.replace("_", "-")), member_id=member)
        return {"id": new_id("f"), **body}

    def item(self) -> Item:
        """Mostly single posts, now and then a batch of 5 to 10 records."""
        service = self.rng.choice(SERVICES)
        if self.rng.random() < 0.15:
            size = self.rng.randint(5, 10)
            return Item(service, tuple(self.record(service) for _ in range(size)), batch=True)
        return Item(service, (self.record(service),))
