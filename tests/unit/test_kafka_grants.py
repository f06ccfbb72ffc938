"""The cluster's ACLs as tools/kafka_access/grants.py generates them from the topic registry."""

import pytest

from services.scoring.routing import routed_topics
from services.scoring.score_feed import feed_topic
from services.scoring.worker import WorkerSettings
from shared.contracts import AUDIT, DEAD_LETTER, TOPICS, Stream
from shared.registry_events import registry_topic
from tests.conftest import load_stack
from tools.kafka_access.__main__ import AccessSettings
from tools.kafka_access.grants import API, INTAKE, SERVICES, WORKER, Acl, Operation, acls, may

APP_ID, DATABASE = "scoring", "partybuilding"
PRODUCER = "producer-hr-system"
RULES = acls(APP_ID, DATABASE, (PRODUCER,), (f"scoring-reminders-delivery.{DATABASE}",))
EVENT_TOPICS = [t.name for t in TOPICS.values()]
WORKERS_OWN = [
    *routed_topics(APP_ID),
    DEAD_LETTER.name,
    feed_topic(DATABASE),
    f"{APP_ID}-v2-g1-__assignor-__leader",
]
READ, WRITE, CREATE, DESCRIBE = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE


@pytest.mark.parametrize("stream", list(Stream))
def test_an_intake_writes_only_its_own_streams_topic_and_reads_none(stream: Stream):
    user = INTAKE[stream]
    assert [t for t in EVENT_TOPICS if may(RULES, user, WRITE, t)] == [TOPICS[stream].name]
    assert not any(may(RULES, user, READ, t) for t in EVENT_TOPICS)
    assert may(RULES, user, WRITE, AUDIT.name)  # its voids and decisions are audited


def test_only_the_worker_and_the_apis_review_queue_read_the_event_topics():
    users = [*SERVICES, PRODUCER]
    assert {u for u in users for t in EVENT_TOPICS if may(RULES, u, READ, t)} == {WORKER, API}
    assert all(may(RULES, WORKER, READ, t) and may(RULES, API, READ, t) for t in EVENT_TOPICS)
    assert not any(may(RULES, u, WRITE, t) for u in (WORKER, API) for t in EVENT_TOPICS)


def test_a_trusted_producer_writes_every_event_topic_and_nothing_else():
    assert all(may(RULES, PRODUCER, WRITE, t) for t in EVENT_TOPICS)
    mine = [r for r in RULES if r.principal == PRODUCER]
    assert {r.operation for r in mine} == {WRITE} and {r.name for r in mine} == set(EVENT_TOPICS)


def test_trusted_producers_cannot_take_a_services_name():
    with pytest.raises(ValueError, match="producer-"):
        acls(APP_ID, DATABASE, (WORKER,))


def test_the_worker_reads_and_writes_its_own_topics_and_the_api_only_reads_the_feed():
    for topic in WORKERS_OWN:
        assert may(RULES, WORKER, READ, topic) or topic == feed_topic(DATABASE), topic
        assert may(RULES, WORKER, WRITE, topic), topic
        assert not any(may(RULES, u, WRITE, topic) for u in (API, *INTAKE.values(), PRODUCER)), topic
    assert may(RULES, API, READ, feed_topic(DATABASE)) and may(RULES, API, READ, AUDIT.name)
    assert not any(may(RULES, API, WRITE, t) for t in [*EVENT_TOPICS, *routed_topics(APP_ID)])


def test_every_service_may_ensure_every_topic_it_may_be_first_to_need():
    for user in SERVICES:
        for topic in [
            *EVENT_TOPICS,
            *routed_topics(APP_ID),
            DEAD_LETTER.name,
            AUDIT.name,
            feed_topic(DATABASE),
        ]:
            assert may(RULES, user, DESCRIBE, topic) and may(RULES, user, CREATE, topic), (user, topic)


def test_the_api_keeps_the_registry_of_its_database_and_every_name_is_concrete():
    topic = registry_topic(DATABASE)
    assert may(RULES, API, WRITE, topic) and may(RULES, API, READ, topic)
    assert not any(may(RULES, u, WRITE, topic) for u in (WORKER, *INTAKE.values(), PRODUCER))
    assert not [r.name for r in RULES if "<" in r.name]  # a template left unfilled grants nothing


def test_a_topic_missing_from_the_registry_is_nobodys():
    assert not any(may(RULES, u, op, "someone.elses.v1") for u in SERVICES for op in Operation)


def test_rules_are_unique_sorted_and_name_no_super_user():
    assert RULES == sorted(set(RULES))
    assert {r.principal for r in RULES} == {*SERVICES, PRODUCER}
    assert all(isinstance(r, Acl) for r in RULES)


def test_every_service_the_stack_starts_has_a_user_and_the_same_worker_group():
    stack = load_stack()
    started = {p.name for p in stack.processes(stack.Layout()) if p.command[1:2] == ["-m"]}
    assert started == set(SERVICES)
    assert AccessSettings.model_fields["app_id"].default == WorkerSettings.model_fields["app_id"].default


def test_a_cluster_node_takes_only_scram_logins_and_asks_the_acls(tmp_path, monkeypatch):
    stack = load_stack()
    monkeypatch.setattr(stack, "VAR", tmp_path)  # the copy's files, here
    layout = stack.Layout(brokers=3)
    stack.write_users(layout.kafka_users, {"admin": "pw-admin", "volunteer": "pw-v"})
    node = layout.kafka_nodes()[0]
    text = stack.Stack(layout).server_properties(node, node.home / "data")
    written = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert written["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert (
        written["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert written["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert written["allow.everyone.if.no.acl.found"] == "false" and written["super.users"] == "User:admin"
    assert 'password="pw-admin"' in written["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert "@ADMIN_PASSWORD@" not in text
    assert stack.Stack(layout).scram_users([node]) == [
        "--add-scram=SCRAM-SHA-512=[name=admin,password=pw-admin]",
        "--add-scram=SCRAM-SHA-512=[name=volunteer,password=pw-v]",
    ]
    assert layout.kafka_login("volunteer") == {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "volunteer",
        "KAFKA_SASL_PASSWORD": "pw-v",
    }
    assert layout.kafka_login("ferretdb") == {}  # no user of its own


def test_the_single_broker_stays_open(tmp_path, monkeypatch):
    stack = load_stack()
    monkeypatch.setattr(stack, "VAR", tmp_path)
    layout = stack.Layout()
    (node,) = layout.kafka_nodes()
    text = stack.Stack(layout).server_properties(node, node.home / "data")
    assert "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n" in text
    assert "authorizer" not in text and "sasl" not in text
    assert layout.kafka_login("volunteer") == {}
