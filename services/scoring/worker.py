"""Composition root of the scoring worker: a faust app whose agents hand each record to the Scorer."""

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.scoring import metrics
from services.scoring.dead_letters import KafkaDeadLetters
from services.scoring.delivery import Delivery
from services.scoring.fault_injection import FaultInjection
from services.scoring.generations import Generation, MongoGenerations
from services.scoring.router import Router
from services.scoring.routing import routed_topics
from services.scoring.rulebooks import DEFAULT_RULEBOOK, parse_rulebook_text
from services.scoring.score_feed import SCORE_FEED_CONFIG, KafkaScoreFeed, feed_topic
from services.scoring.scorer import Limits, Scorer
from services.scoring.store import Fenced, MongoScoreStore, StoreUnavailable
from shared import mongo
from shared.health import run_checks
from shared.kafka import EVENT_TOPIC_CONFIG, BrokerUnavailable, KafkaPublisher, ensure_topics
from shared.settings import KafkaSettings, MongoSettings, TimeWindowSettings

log = logging.getLogger(__name__)
OUTAGES = (PyMongoError, StoreUnavailable, BrokerUnavailable, OSError)


class WorkerSettings(BaseSettings):
    """Read from SCORING_WORKER_* (and KAFKA_*, MONGO_*)."""

    model_config = SettingsConfigDict(env_prefix="SCORING_WORKER_", extra="ignore")

    app_id: str = "scoring"  # with the generation, the consumer group every worker shares
    web_host: str = "127.0.0.1"
    web_port: int = 8010
    datadir: str = "var/faust"
    rulebook: Path = DEFAULT_RULEBOOK
    commit_interval_s: float = 1.0
    # How long a silent (crashed) worker keeps its partitions before the group moves them; faust's
    # 60 s default left a killed worker's branches unscored for a minute.
    session_timeout_s: float = 10.0
    batch_max: int = 2000
    batch_within_s: float = 0.05
    # Scores are published as soon as a batch is folded; MongoDB is written behind, every
    # `write_behind_s`, one write per ledger however many batches touched it. Records are
    # acknowledged once stored; past `max_unacknowledged` the worker waits for a flush first.
    # 2 s, not less: FerretDB's cost is about a millisecond of CPU per document written, and a
    # branch with a record every second or two is then written once per few records, not per
    # record (at 300 records/s over 600 branches: 1.7 rather than 2.3 ms of the database's CPU
    # per record). Visibility does not wait for it; acknowledgements and a crash's replay do.
    write_behind_s: float = 2.0
    max_unacknowledged: int = 20_000
    # What nothing the worker writes may exceed: MongoDB's 16 MiB document limit and the broker's
    # message size (message.max.bytes, 1 MiB by default), each with room to spare.
    document_max_bytes: int = 15 * 1024 * 1024
    feed_record_max_bytes: int = 900_000
    message_max_bytes: int = 1_000_000
    # Test-only: records with ids `fault-<Error>-<stage>-…` raise inside the worker (fault_injection.py).
    fault_injection: bool = False
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    # The same window the intake services apply (TIME_WINDOW_*): records written straight onto
    # Kafka outside it are dead-lettered with the field named.
    time_window: TimeWindowSettings = Field(default_factory=TimeWindowSettings)


def count_outage(err: BaseException | None) -> None:
    """One failed attempt at an outage, on the metric of the dependency that was away."""
    (metrics.BROKER_ERRORS if isinstance(err, BrokerUnavailable) else metrics.MONGO_ERRORS).inc()


def retrying(deadline_s: float | None = None) -> AsyncRetrying:
    """Waits out MongoDB or broker outages: the partition holds its current record (order matters,
    and skipping would lose it), then catches up."""
    return AsyncRetrying(
        retry=retry_if_exception_type(OUTAGES),
        wait=wait_exponential(multiplier=0.1, max=5),
        stop=stop_after_delay(deadline_s) if deadline_s else (lambda _: False),
        before_sleep=lambda state: count_outage(state.outcome.exception() if state.outcome else None),
        reraise=True,
    )


def prepare(settings: WorkerSettings) -> Generation:
    """Before faust starts: create the topics (faust won't create topics it only reads) and learn
    which score generation is live, with its rulebook (the first worker ever records the
    rulebook file as generation 1's; after that only a rescore changes it)."""

    async def run() -> Generation:
        async for attempt in retrying(deadline_s=60):
            with attempt:
                await ensure_topics(settings.kafka)
                await ensure_topics(settings.kafka, list(routed_topics(settings.app_id)), EVENT_TOPIC_CONFIG)
                await ensure_topics(settings.kafka, [feed_topic(settings.mongo.database)], SCORE_FEED_CONFIG)
        client = mongo.connect(settings.mongo, "scoring-worker-start")
        try:
            generations = MongoGenerations(mongo.database(client, settings.mongo))
            async for attempt in retrying(deadline_s=60):
                with attempt:
                    return await generations.ensure_first(settings.rulebook.read_text(encoding="utf-8"))
        finally:
            await client.close()
        raise AssertionError("unreachable")

    return asyncio.run(run())


class GenerationWatch:
    """Remembers whether the live generation moved on while this worker ran (then it restarts)."""

    def __init__(self, serving: Generation):
        self.serving = serving
        self.changed = False


def broker_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | None:
    """Faust's form of the login the other clients get from KafkaSettings.client_options()."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=kafka.sasl_password.get_secret_value(),
        mechanism=kafka.sasl_mechanism,
    )


def create_worker(settings: WorkerSettings, generation: Generation, watch: GenerationWatch) -> faust.App:
    """The faust app with one agent per event topic, writing into `generation`."""
    datadir = Path(settings.datadir) / str(settings.web_port)  # two local workers need two
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        generation.group(settings.app_id),
        broker=";".join(f"kafka://{s}" for s in settings.kafka.bootstrap_servers.split(",")),
        broker_credentials=broker_credentials(settings.kafka),  # the cluster's SCRAM login, if any
        store="memory://",
        web_host=settings.web_host,
        web_bind=settings.web_host,  # faust binds 0.0.0.0 unless told: keep it on the chosen address
        web_port=settings.web_port,
        datadir=str(datadir),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,  # its own leader topic too
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        consumer_auto_offset_reset="earliest",
        # Records are acknowledged only after a flush (WriteBehind), so faust must not wait for
        # acknowledgements before it gives partitions up or stops: on_revoked flushes what it can
        # and drops the rest, which Kafka delivers again to the next owner.
        stream_wait_empty=False,
    )
    client = mongo.connect(settings.mongo, "scoring-worker")
    db = mongo.database(client, settings.mongo)
    store = MongoScoreStore(db, generation)
    publisher = KafkaPublisher(settings.kafka, client_id="scoring-worker")
    dead_letters = KafkaDeadLetters(publisher, settings.message_max_bytes)
    streams = routed_topics(settings.app_id)
    scorer = Scorer(
        store,
        KafkaScoreFeed(publisher, feed_topic(settings.mongo.database)),
        generation.number,
        parse_rulebook_text(generation.rulebook_toml or settings.rulebook.read_text(encoding="utf-8")),
        dead_letters,
        lambda: datetime.now(UTC),
        streams,
        Limits(settings.document_max_bytes, settings.feed_record_max_bytes),
        FaultInjection(settings.fault_injection),
        settings.time_window.window(),
    )
    router = Router(settings.kafka, settings.app_id, publisher, dead_letters)

    behind = WriteBehind(scorer, settings.max_unacknowledged)

    async def consume(stream):  # type: ignore[no-untyped-def]
        # Batches: a record waits at most `batch_within_s` for company. A record is acknowledged
        # (so its offset committed) only once what it changed is stored (or it is dead-lettered).
        async for events in stream.noack_take(settings.batch_max, within=settings.batch_within_s):
            era = scorer.era  # a rebalance while the batch is in hand makes it someone else's
            await handle_until_done(scorer, [delivery_of(e.message) for e in events])
            await behind.owe(stream, events, era)

    for topic in streams:
        channel = app.topic(topic, key_serializer="raw", value_serializer="raw")
        app.agent(channel, name=f"score-{topic}")(consume)

    @app.task
    async def route() -> None:
        await router.run()

    @app.timer(2.0)
    async def follow_generation() -> None:
        # A rescore switched the live generation: stop, and restart serving the new one.
        try:
            live = await MongoGenerations(db).active()
        except PyMongoError:
            return
        if live != watch.serving and not watch.changed:
            log.warning("live generation is now %s (was %s): restarting", live.number, watch.serving.number)
            watch.changed = True
            os.kill(os.getpid(), signal.SIGTERM)  # faust's own graceful stop: commit, leave the group

    @app.timer(settings.write_behind_s)
    async def write_behind() -> None:
        await behind.flush()

    # Before partitions move: store what they owe (once: a database outage must not hold up the
    # rebalance) and forget the rest, which Kafka delivers again to their next owner.
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender, revoked, **kwargs):  # type: ignore[no-untyped-def]
        await behind.revoke()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def on_shutdown(sender, **kwargs):  # type: ignore[no-untyped-def]
        await behind.revoke()  # less to fold again at the next start

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender, assigned, **kwargs):  # type: ignore[no-untyped-def]
        await retrying_forever(
            scorer.own, [(tp.topic, tp.partition) for tp in assigned if tp.topic in streams]
        )

    observe(app, router, set(streams))
    serve_health(app, {"kafka": publisher.check, "mongodb": lambda: mongo.check(client)})
    return app


def delivery_of(message) -> Delivery:  # type: ignore[no-untyped-def]
    headers = message.headers or ()
    items = headers.items() if hasattr(headers, "items") else headers
    return Delivery(
        message.topic, message.partition, message.offset, message.key, message.value or b"", tuple(items)
    )


async def retrying_forever(call, *args) -> None:  # type: ignore[no-untyped-def]
    async for attempt in retrying():
        with attempt:
            await call(*args)


class WriteBehind:
    """Records taken and folded but not yet stored: acknowledged after the flush that stores
    them. A crash loses only unacknowledged work, which Kafka delivers again."""

    def __init__(self, scorer: Scorer, max_unacknowledged: int):
        self._scorer, self._max = scorer, max_unacknowledged
        self._pending: list[tuple[Any, Any]] = []  # (stream, event)
        self._lock = asyncio.Lock()

    async def owe(self, stream: Any, events: list, era: int) -> None:
        """Hold a handled batch's records until a flush stores what they changed; a batch from
        before a rebalance is dropped (its partition's next owner gets it again)."""
        if era != self._scorer.era:
            return
        self._pending += [(stream, e) for e in events]
        while len(self._pending) >= self._max:  # backpressure: take no more than can be stored
            await self.flush()
            if len(self._pending) >= self._max:  # the database is away: wait for it
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        """Store what is owed, then acknowledge the records it came from; on an outage, keep
        both for the next try."""
        async with self._lock:
            await self._flush()

    async def revoke(self) -> None:
        """Store what can be stored now, then drop everything held: partitions are moving."""
        async with self._lock:
            await self._flush()
            self._pending = []
            self._scorer.forget()

    async def _flush(self) -> None:
        taken, self._pending = self._pending, []
        try:
            if self._scorer.owes():
                await self._scorer.flush()
        except Fenced as err:  # another worker owns them now: it folds them again
            log.warning("%s; dropping what this worker held of them", err)
            taken = [(s, e) for s, e in taken if (e.message.topic, e.message.partition) not in err.partitions]
        except Exception as err:
            self._pending = taken + self._pending
            count_outage(err)
            log.warning("writing scores behind failed (%s): retrying", type(err).__name__)
            return
        for stream, event in taken:
            await stream.ack(event)


async def handle_until_done(scorer: Scorer, batch: list[Delivery]) -> None:
    """Apply a batch, waiting out outages; an unexpected error is retried too, never skipped:
    moving past records that were not applied would lose them."""
    while True:
        try:
            async for attempt in retrying():
                with attempt:
                    await scorer.handle_batch(batch)
            return
        except Exception:
            log.exception("scoring a batch failed unexpectedly; retrying it")
            metrics.BATCH_FAILURES.inc()
            await asyncio.sleep(2.0)


def observe(app: faust.App, router: Router, routed: set[str]) -> None:
    """Partition ownership and consumer lag as metrics."""

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender, assigned, **kwargs):  # type: ignore[no-untyped-def]
        owned = [tp for tp in assigned if tp.topic in routed]
        metrics.ASSIGNED.set(len(owned))
        metrics.LAG.clear()  # partitions we no longer own must not report a stale lag
        log.info("now owning %d event partitions", len(owned))

    @app.timer(5.0)
    async def report_lag() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic in routed:
                position = await consumer.position(tp)
                highwater = consumer.highwater(tp)
                if position is not None and highwater is not None:
                    metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))
        routing = router.consumer
        if routing is not None:  # the input topics, as far as the router has forwarded them
            for tp in routing.assignment():
                position, highwater = await routing.position(tp), routing.highwater(tp)
                if highwater is not None:
                    metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


def serve_health(app: faust.App, checks: dict) -> None:
    """/healthz, /readyz and /metrics on the worker's own web port."""

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
