"""The three-broker cluster lets in only its SCRAM users, and each may do what the topic registry
grants it (tools/kafka_access): on a copy of its own (tests/integration/sasl_cluster.py), started
for this module and destroyed after it, so the copy the other tests use keeps its open broker."""

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from shared.contracts import TOPICS, Stream
from shared.settings import KafkaSettings
from tests.conftest import new_id, poll
from tests.integration import sasl_cluster as copy
from tests.support import deployment

# Starting three brokers, FerretDB and three services on a busy machine takes minutes.
pytestmark = pytest.mark.timeout(900)

VOLUNTEER, LIAISON = TOPICS[Stream.VOLUNTEER].name, TOPICS[Stream.LIAISON].name
CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    with copy.running():
        yield


def record_key() -> bytes:
    return new_id("sasl").encode()


async def test_without_a_login_or_with_a_wrong_password_nothing_is_written(cluster):
    with pytest.raises(KafkaConnectionError):
        await copy.produce(KafkaSettings(bootstrap_servers=copy.BOOTSTRAP), VOLUNTEER, record_key(), b"{}")
    with pytest.raises(KafkaConnectionError):  # SaslAuthenticationFailed on every broker
        await copy.produce(copy.login("volunteer", "not-its-password"), VOLUNTEER, record_key(), b"{}")


async def test_an_intake_writes_its_topic_and_cannot_read_it_the_worker_can(cluster):
    key = record_key()
    await copy.produce(copy.login("volunteer"), VOLUNTEER, key, b"{}")  # dead-lettered: not an event
    with pytest.raises(TopicAuthorizationFailedError):
        await copy.keys(copy.login("volunteer"), VOLUNTEER)
    assert key in await copy.keys(copy.login("scoring-worker"), VOLUNTEER)


async def test_a_login_without_a_grant_for_the_topic_is_refused(cluster):
    with pytest.raises(TopicAuthorizationFailedError):  # an intake, onto another stream's topic
        await copy.produce(copy.login("volunteer"), LIAISON, record_key(), b"{}")
    with pytest.raises(TopicAuthorizationFailedError):  # the API writes no event topic
        await copy.produce(copy.login("scoring-api"), VOLUNTEER, record_key(), b"{}")


async def test_a_trusted_producer_added_with_stack_py_writes_every_event_topic(cluster):
    name = f"producer-{new_id('hr')}"
    settings = dict(
        line.split("=", 1)
        for line in (await asyncio.to_thread(copy.stack, "kafka-producer", name)).splitlines()
    )
    assert settings["KAFKA_SASL_USERNAME"] == name and settings["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    options = copy.login(name, settings["KAFKA_SASL_PASSWORD"])
    for topic in (VOLUNTEER, LIAISON):
        key = record_key()
        await copy.produce(options, topic, key, b"{}")
        assert key in await copy.keys(copy.login("scoring-worker"), topic)
    with pytest.raises(TopicAuthorizationFailedError):  # writes, never reads
        await copy.keys(options, VOLUNTEER)


async def test_a_record_posted_to_the_intake_is_scored_on_the_cluster(cluster, tokens):
    branch, court = new_id("sasl-b"), new_id("sasl-court")
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.put(
            f"{copy.URLS['scoring']}/v1/branches/{branch}",
            json={"name": f"支部 {branch}", "court": court, "court_name": "鉴权测试法院", "members": 1},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        assert r.status_code == 200, r.text
        record = deployment(branch, datetime(2024, 3, 15, 10, tzinfo=CST), hours=2)
        r = await client.post(
            f"{copy.URLS['volunteer']}/v1/deployments",
            json=record,
            headers={"Authorization": f"Bearer {tokens['writer']}"},
        )
        assert r.status_code == 202, r.text

        async def score() -> dict:
            r = await client.get(
                f"{copy.URLS['scoring']}/v1/branches/{branch}/score",
                params={"period": "2024-03"},
                headers={"Authorization": f"Bearer {tokens['reader']}"},
            )
            return r.json() if r.status_code == 200 else {}

        found = await poll(score, lambda s: bool(s.get("kinds")), deadline_s=120, every_s=0.5)
    (line,) = found["kinds"]
    assert (line["kind"], line["count"], line["hours"]) == ("tianping_volunteer_team", 1, 2)
