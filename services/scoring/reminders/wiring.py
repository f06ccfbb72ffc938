"""Composition of the reminders inside the scoring API process.

Why the API process (and not the faust worker or a process of its own): the API already follows
the score feed and judges compliance for /v1/compliance; the scheduler reads that very table
(compliance_source.py), so a reminder can never disagree with the compliance view, and no second
copy of every branch's counts is kept in another process. However many API processes run, the
scheduler group's one-partition control topic makes exactly one of them the scheduler; every
API process delivers (the delivery group shares the reminder topic's partitions among them)."""

import asyncio
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.core.rulebook import Rulebook
from services.scoring.reminders.allowlist import Allowlist
from services.scoring.reminders.compliance_source import ApiCompliance
from services.scoring.reminders.deliverer import Deliverer
from services.scoring.reminders.kafka_io import Leadership, ReminderTopics
from services.scoring.reminders.routes import reminders_router
from services.scoring.reminders.scheduler import Scheduler
from services.scoring.reminders.settings import RemindersSettings
from services.scoring.reminders.subscriptions import MongoSubscriptions, audience_of
from services.scoring.reminders.webhook import WebhookClient
from shared.kafka import KafkaPublisher
from shared.settings import KafkaSettings


class Reminders:
    """The scheduler, the deliverer and their routes; `tasks()` starts them with the app."""

    def __init__(
        self,
        app: FastAPI,
        kafka: KafkaSettings,
        db: AsyncDatabase,
        file_rulebook: Rulebook,
        clock: Callable[[], datetime],
        settings: RemindersSettings | None = None,
    ):
        self.settings = settings = settings or RemindersSettings()
        allow = Allowlist.parse(settings.allow)
        # A first run over a city writes thousands of reminders: acks may take longer than a post's.
        self.publisher = KafkaPublisher(kafka, client_id="scoring-reminders", ack_timeout_s=30.0)
        topics = ReminderTopics(db.name, settings.scheduler_group, settings.delivery_group)
        self.leadership = Leadership(kafka, topics)
        store = MongoSubscriptions(db)
        self.scheduler = Scheduler(
            kafka,
            self.publisher,
            ApiCompliance(app, file_rulebook),
            self.leadership,
            clock,
            lambda: audience_of(store),
            topics,
        )
        self.client = WebhookClient(allow, settings.timeout_s)
        self.deliverer = Deliverer(kafka, settings, store, self.client, self.publisher, topics)
        self.router = reminders_router(store, self.scheduler, allow)

    def tasks(self) -> list[asyncio.Task]:
        if not self.settings.enabled:
            return []
        return [
            asyncio.create_task(self.leadership.run()),
            asyncio.create_task(self.scheduler.loop(self.settings.poll_s)),
            asyncio.create_task(self._deliver()),
        ]

    async def _deliver(self) -> None:
        try:
            await self.deliverer.run()
        finally:
            await self.client.close()
            await self.publisher.stop()
