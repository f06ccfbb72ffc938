"""The webhook deliverer: every reminder to every subscription that covers it, at least once.

Offsets are committed only once each of a batch's reminders is delivered or dead-lettered, so a
crash redelivers (receivers drop repeats by Idempotency-Key). Tries are spaced by exponential
backoff (tenacity); after the last, the reminder goes to the dead-letter topic with the reason."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.scoring.reminders.events import decode, short_type
from services.scoring.reminders.kafka_io import (
    SESSION_TIMEOUT_MS,
    ReminderTopics,
    client_options,
    ensure_reminder_topics,
)
from services.scoring.reminders.metrics import DELIVERIES, DELIVERY_SECONDS
from services.scoring.reminders.settings import RemindersSettings
from services.scoring.reminders.signing import outgoing
from services.scoring.reminders.subscriptions import Subscription, SubscriptionStore
from services.scoring.reminders.webhook import Permanent, Transient, WebhookClient
from shared.kafka import KafkaPublisher
from shared.kafka_watch import FetchWatch, cancelled_from_outside, count_restart
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(
        self,
        kafka: KafkaSettings,
        settings: RemindersSettings,
        store: SubscriptionStore,
        client: WebhookClient,
        publisher: KafkaPublisher,
        topics: ReminderTopics,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ):
        self._kafka, self._settings, self._store, self._topics = kafka, settings, store, topics
        self._client, self._publisher, self._clock_ms = client, publisher, clock_ms

    async def handle(self, raw: bytes, subscriptions: list[Subscription] | None = None) -> None:
        """Deliver one reminder to every subscription covering it (each on its own retries), of
        `subscriptions` (default: as stored now)."""
        try:
            event = decode(raw)
        except ValueError:
            log.warning("not a reminder event on %s: skipped", self._topics.reminders)
            return
        kind, data = short_type(event), event.get("data") or {}
        branch, court = event.get("subject", ""), data.get("court")
        subs = subscriptions if subscriptions is not None else await self._store.all()
        targets = [s for s in subs if s.covers(court, branch, kind)]
        await asyncio.gather(*(self.deliver(s, event, kind, raw) for s in targets))

    async def deliver(self, sub: Subscription, event: dict[str, Any], kind: str, raw: bytes) -> None:
        """Send until it lands, the tries run out (dead-letter) or it cannot land (dead-letter now)."""
        tries = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.attempts),
            wait=wait_exponential(multiplier=self._settings.backoff_s, max=self._settings.backoff_max_s),
            retry=retry_if_exception_type(Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    tries += 1
                    await self._send_once(sub, event, kind)
        except (Transient, Permanent) as err:
            await self._dead_letter(sub, raw, f"{type(err).__name__.lower()}: {err}", tries)
            return
        DELIVERIES.labels(sub.format, "delivered").inc()

    async def _send_once(self, sub: Subscription, event: dict[str, Any], kind: str) -> None:
        # A fresh timestamp (and signature) per try: receivers may refuse stale ones.
        request = outgoing(sub.format, sub.url, sub.secret, event, kind, self._clock_ms())
        start = time.perf_counter()
        try:
            await self._client.send(request)
        except (Transient, Permanent):
            DELIVERIES.labels(sub.format, "failed_attempt").inc()
            raise
        finally:
            DELIVERY_SECONDS.labels(sub.format).observe(time.perf_counter() - start)

    async def _dead_letter(self, sub: Subscription, raw: bytes, reason: str, tries: int) -> None:
        headers = [
            ("dlq.reason", reason.encode()[:500]),
            ("dlq.subscription", sub.id.encode()),
            ("dlq.attempts", str(tries).encode()),
        ]
        await self._publisher.publish(self._topics.dead_letter, sub.id.encode(), raw, headers)
        DELIVERIES.labels(sub.format, "dead_lettered").inc()
        log.warning("reminder dead-lettered for subscription %s after %d tries: %s", sub.id, tries, reason)

    async def run(self) -> None:
        """Consume the reminder topic in the delivery group for the process's lifetime."""
        while True:
            consumer = AIOKafkaConsumer(
                self._topics.reminders,
                **client_options(self._kafka),
                group_id=self._topics.delivery_group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_interval_ms=30 * 60_000,  # a batch may wait on retries to slow receivers
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=3_000,
            )
            try:
                await ensure_reminder_topics(self._kafka, self._topics)
                await consumer.start()
                watch = FetchWatch(consumer, self._kafka, patience=3)
                while True:
                    await watch.look()
                    batches = await consumer.getmany(timeout_ms=1000, max_records=50)
                    if not batches:
                        continue
                    # Read after the batch arrived: a subscription stored before its reminders were
                    # published is in it (a cached list missed one made a moment before, and the
                    # reminder was committed undelivered).
                    subs = await self._store.all()
                    # Reminders are independent of each other: one slow subscriber delays a batch
                    # by its retries once, not once per reminder.
                    await asyncio.gather(*(self.handle(r.value, subs) for rs in batches.values() for r in rs))
                    await consumer.commit()
            except asyncio.CancelledError as err:
                if cancelled_from_outside():
                    raise
                count_restart("reminder deliverer", err)
                log.warning("reminder deliverer: a request was cancelled under it; resuming")
                await asyncio.sleep(2.0)
            except Exception as err:  # the broker or database away, stalled: resume from the last commit
                count_restart("reminder deliverer", err)
                log.warning("reminder deliverer: %s: %s; resuming", type(err).__name__, err)
                await asyncio.sleep(2.0)
            finally:
                await consumer.stop()
