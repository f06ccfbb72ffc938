"""Composition root of the scoring worker: a faust app whose agents hand each record to the Scorer."""

import asyncio
import logging
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.scoring import metrics
from services.scoring.core.rulebook import Rulebook, parse_rulebook
from services.scoring.scorer import Delivery, Scorer
from services.scoring.store import MongoScoreStore
from shared import mongo
from shared.contracts import DEAD_LETTER, TOPICS
from shared.health import run_checks
from shared.kafka import BrokerUnavailable, KafkaPublisher, ensure_topics
from shared.settings import KafkaSettings, MongoSettings

log = logging.getLogger(__name__)
DEFAULT_RULEBOOK = Path(__file__).with_name("rulebook.toml")


class WorkerSettings(BaseSettings):
    """Read from SCORING_WORKER_* (and KAFKA_*, MONGO_*)."""

    model_config = SettingsConfigDict(env_prefix="SCORING_WORKER_", extra="ignore")

    app_id: str = "scoring"  # the consumer group: every worker with this id shares the partitions
    web_host: str = "127.0.0.1"
    web_port: int = 8010
    datadir: str = "var/faust"
    rulebook: Path = DEFAULT_RULEBOOK
    commit_interval_s: float = 1.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)


def load_rulebook(path: Path) -> Rulebook:
    return parse_rulebook(tomllib.loads(path.read_text(encoding="utf-8")))


class KafkaDeadLetters:
    """Sends a bad record, unchanged, to the dead-letter topic with the reason in headers."""

    def __init__(self, publisher: KafkaPublisher):
        self._publisher = publisher

    async def send(self, d: Delivery, reason: str) -> None:
        headers = [
            ("dlq.reason", reason[:1000].encode()),
            ("dlq.topic", d.topic.encode()),
            ("dlq.partition", str(d.partition).encode()),
            ("dlq.offset", str(d.offset).encode()),
        ]
        await self._publisher.publish(DEAD_LETTER.name, d.key, d.value, headers)


def ensure_topics_or_wait(settings: KafkaSettings, deadline_s: float = 60) -> None:
    """Create the topics before faust subscribes (faust does not create topics it only reads)."""

    async def attempt() -> None:
        async for a in AsyncRetrying(
            stop=stop_after_delay(deadline_s), wait=wait_exponential(max=2), reraise=True
        ):
            with a:
                await ensure_topics(settings)

    asyncio.run(attempt())


def _retrying() -> AsyncRetrying:
    # While MongoDB or the broker is away the partition waits on its current record (order
    # matters, and skipping would lose it), then catches up.
    def count(_state: object) -> None:
        metrics.MONGO_ERRORS.inc()

    return AsyncRetrying(
        retry=retry_if_exception_type((PyMongoError, BrokerUnavailable)),
        wait=wait_exponential(multiplier=0.1, max=5),
        before_sleep=count,
        reraise=True,
    )


def create_worker(settings: WorkerSettings) -> faust.App:
    """The faust app with one agent per event topic."""
    datadir = Path(settings.datadir) / str(settings.web_port)  # two local workers need two
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{s}" for s in settings.kafka.bootstrap_servers.split(",")),
        store="memory://",
        web_host=settings.web_host,
        web_bind=settings.web_host,  # faust binds 0.0.0.0 unless told: keep it on the chosen address
        web_port=settings.web_port,
        datadir=str(datadir),
        topic_partitions=settings.kafka.partitions,
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
    )
    client = mongo.connect(settings.mongo, "scoring-worker")
    store = MongoScoreStore(mongo.database(client, settings.mongo))
    publisher = KafkaPublisher(settings.kafka, client_id="scoring-dead-letters")
    scorer = Scorer(
        store, load_rulebook(settings.rulebook), KafkaDeadLetters(publisher), lambda: datetime.now(UTC)
    )

    async def consume(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            m = event.message
            delivery = Delivery(m.topic, m.partition, m.offset, m.key, m.value)
            async for attempt in _retrying():
                with attempt:
                    await scorer.handle(delivery)

    for topic in TOPICS.values():
        channel = app.topic(topic.name, key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"score-{topic.name}")(consume)

    event_topics = {t.name for t in TOPICS.values()}

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender, assigned, **kwargs):  # type: ignore[no-untyped-def]
        owned = [tp for tp in assigned if tp.topic in event_topics]
        metrics.ASSIGNED.set(len(owned))
        metrics.LAG.clear()  # partitions we no longer own must not report a stale lag
        log.info("now owning %d event partitions", len(owned))

    @app.timer(5.0)
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic in event_topics:
                position = await consumer.position(tp)
                highwater = consumer.highwater(tp)
                if position is not None and highwater is not None:
                    metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))

    @app.task
    async def prepare() -> None:
        async for attempt in _retrying():
            with attempt:
                await store.ensure_indexes()

    checks = {"kafka": publisher.check, "mongodb": lambda: mongo.check(client)}

    @app.page("/healthz")
    async def healthz(web, request):  # type: ignore[no-untyped-def]
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web, request):  # type: ignore[no-untyped-def]
        failures = await run_checks(checks)
        if failures:
            return web.json({"status": "unavailable", "failed": failures}, status=503)
        return web.json({"status": "ready", "checked": sorted(checks)})

    @app.page("/metrics")
    async def prometheus(web, request):  # type: ignore[no-untyped-def]
        # aiohttp takes the charset separately from the content type.
        return web.bytes(
            generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"
        )

    return app
