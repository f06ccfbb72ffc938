"""Who may do what on the three-broker cluster's topics: the topic registry with its principals,
and the Kafka ACLs generated from it (pure: no broker, no I/O).

Every principal is a SCRAM user named like the process that logs in with it (deploy/local/stack.py
gives each its own password): the intake services write their own stream's topic, listed trusted
producers write the event topics, the scoring worker reads them and writes its own topics, the
scoring API reads them (its review queue), the score feed and the audit trail and keeps its own
topics (the registry, finalisations, reminders). `admin` is the brokers' own user and the
operators' (a super user: no ACL names it). A new topic gets its line in `registry`, or no service
may touch it.
"""

from dataclasses import dataclass
from enum import IntEnum

from services.scoring.routing import routed_topics
from services.scoring.score_feed import feed_topic
from shared.contracts import (
    AUDIT,
    DEAD_LETTER,
    REMINDER_CONTROL,
    REMINDER_DEAD_LETTER,
    REMINDERS,
    TOPICS,
    Stream,
)
from shared.finalisations import FINALISATIONS
from shared.registry_events import registry_topic

ADMIN = "admin"
WORKER = "scoring-worker"
API = "scoring-api"
INTAKE = {Stream.VOLUNTEER: "volunteer", Stream.LIAISON: "liaison", Stream.TRAINING: "training"}
SERVICES = (WORKER, API, *INTAKE.values())
PRODUCER_PREFIX = "producer-"  # trusted producers' users: never a service's name


class Resource(IntEnum):
    """Kafka's resource types (the wire values of CreateAcls)."""

    TOPIC = 2
    GROUP = 3


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """The operations granted here. READ and WRITE imply DESCRIBE; a producer's idempotence needs
    WRITE on some topic, nothing on the cluster."""

    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule, from any host."""

    resource: Resource
    name: str
    pattern: Pattern
    principal: str  # the user, without "User:"
    operation: Operation


@dataclass(frozen=True)
class Access:
    """Who may write and read one topic (every topic starting with `topic`, if prefixed)."""

    topic: str
    writers: tuple[str, ...]
    readers: tuple[str, ...]
    prefixed: bool = False


def registry(app_id: str, database: str, producers: tuple[str, ...] = ()) -> list[Access]:
    """Every topic the system uses with its writers and readers, for the worker group `app_id`
    (SCORING_WORKER_APP_ID) and the score database `database` (MONGO_DATABASE)."""
    intake = tuple(INTAKE.values())
    return [
        # Read by the worker, and by the API's review queue (services/scoring/api/submissions.py).
        *(Access(t.name, (INTAKE[s], *producers), (WORKER, API)) for s, t in TOPICS.items()),
        *(Access(t, (WORKER,), (WORKER,)) for t in routed_topics(app_id)),
        Access(DEAD_LETTER.name, (WORKER,), (WORKER,)),
        Access(feed_topic(database), (WORKER,), (API,)),
        # Rescores (run with the worker's user) and every state-changing request are audited.
        Access(AUDIT.name, (API, WORKER, *intake), (API,)),
        # The API's own: the branch and member registry, finalisations, reminders and their control.
        Access(registry_topic(database), (API,), (API,)),
        Access(FINALISATIONS.name, (API,), (API,)),
        *(
            Access(t.of(database), (API,), (API,))
            for t in (REMINDERS, REMINDER_DEAD_LETTER, REMINDER_CONTROL)
        ),
        # Faust's own topics (its group's leader topic, changelogs): named after its group.
        Access(f"{app_id}-", (WORKER,), (WORKER,), prefixed=True),
    ]


def acls(
    app_id: str, database: str, producers: tuple[str, ...] = (), api_groups: tuple[str, ...] = ()
) -> list[Acl]:
    """The ACLs the registry needs, sorted, each once, with the consumer groups the API joins
    (`api_groups`: the reminders'). Every service may also describe and create every literal topic:
    any of them may be the first to start and ensure the topics exist."""
    wrong = [p for p in producers if not p.startswith(PRODUCER_PREFIX)]
    if wrong:
        raise ValueError(f"trusted producers' users start with {PRODUCER_PREFIX!r}: {', '.join(wrong)}")
    found: set[Acl] = set()
    for access in registry(app_id, database, producers):
        pattern = Pattern.PREFIXED if access.prefixed else Pattern.LITERAL
        for user in access.writers:
            found.add(Acl(Resource.TOPIC, access.topic, pattern, user, Operation.WRITE))
        for user in access.readers:
            found.add(Acl(Resource.TOPIC, access.topic, pattern, user, Operation.READ))
        if not access.prefixed:
            for user in SERVICES:
                found.add(Acl(Resource.TOPIC, access.topic, pattern, user, Operation.DESCRIBE))
                found.add(Acl(Resource.TOPIC, access.topic, pattern, user, Operation.CREATE))
        else:
            found.add(Acl(Resource.TOPIC, access.topic, pattern, WORKER, Operation.CREATE))
    # The worker's consumer groups: faust's (one per generation), the router's, a rescore's.
    found.add(Acl(Resource.GROUP, f"{app_id}-", Pattern.PREFIXED, WORKER, Operation.READ))
    found |= {Acl(Resource.GROUP, g, Pattern.LITERAL, API, Operation.READ) for g in api_groups}
    return sorted(found)


def may(rules: list[Acl], user: str, operation: Operation, topic: str) -> bool:
    """Whether `rules` let `user` do `operation` on `topic` (READ and WRITE imply DESCRIBE), as
    Kafka's authorizer decides for ALLOW-only rules."""
    implied = {operation} | ({Operation.READ, Operation.WRITE} if operation == Operation.DESCRIBE else set())
    return any(
        r.resource == Resource.TOPIC
        and r.principal == user
        and r.operation in implied
        and (topic.startswith(r.name) if r.pattern == Pattern.PREFIXED else topic == r.name)
        for r in rules
    )
