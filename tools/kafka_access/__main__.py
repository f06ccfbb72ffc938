"""`python -m tools.kafka_access apply [PRODUCER...]`: create the ACLs grants.py generates (for the
services and the trusted producers named), logged in with KAFKA_* as a super user; existing ACLs
stay (Kafka keeps one of each). `list [PRODUCER...]` prints them instead."""

import argparse
import asyncio
import sys

from aiokafka import AIOKafkaClient
from aiokafka.protocol.admin import CreateAclsRequest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.scoring.reminders.kafka_io import ReminderTopics
from services.scoring.reminders.settings import RemindersSettings
from shared.settings import KafkaSettings, MongoSettings
from tools.kafka_access.grants import Acl, acls

ANY_HOST, ALLOW = "*", 3


class AccessSettings(BaseSettings):
    """What the topics' names depend on, read as the worker reads it (SCORING_WORKER_APP_ID,
    MONGO_DATABASE), and the admin's login (KAFKA_*). Not WorkerSettings: that imports faust."""

    model_config = SettingsConfigDict(env_prefix="SCORING_WORKER_", extra="ignore")

    app_id: str = "scoring"  # WorkerSettings' default (a unit test holds them equal)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)


async def apply(rules: list[Acl], settings: AccessSettings) -> list[str]:
    """Send the rules to the cluster; the errors it answered, one line each."""
    client = AIOKafkaClient(**settings.kafka.client_options(), request_timeout_ms=30_000)
    await client.bootstrap()
    try:
        node = client.get_random_node()
        # One rule a request (the client's form of CreateAcls), all sent at once.
        responses = await asyncio.gather(
            *(
                client.send(
                    node,
                    CreateAclsRequest(
                        r.resource, r.name, r.pattern, f"User:{r.principal}", ANY_HOST, r.operation, ALLOW
                    ),
                )
                for r in rules
            )
        )
    finally:
        await client.close()
    return [
        f"{rule}: error {code} {message}"
        for rule, response in zip(rules, responses, strict=True)
        for code, message in response.creation_responses
        if code
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["apply", "list"])
    parser.add_argument("producers", nargs="*", help="trusted producers' users (producer-...)")
    args = parser.parse_args()
    settings = AccessSettings()
    reminders = RemindersSettings()
    topics = ReminderTopics(settings.mongo.database, reminders.scheduler_group, reminders.delivery_group)
    groups = (topics.scheduler_group, topics.delivery_group)
    rules = acls(settings.app_id, settings.mongo.database, tuple(args.producers), groups)
    if args.action == "list":
        for r in rules:
            where = f"{r.resource.name.lower()} {r.name} ({r.pattern.name.lower()})"
            print(f"{r.principal:16} {r.operation.name:8} {where}")
        return
    if errors := asyncio.run(apply(rules, settings)):
        sys.exit("ACLs refused:\n" + "\n".join(errors))
    print(f"{len(rules)} ACLs in place")


if __name__ == "__main__":
    main()
