"""Composition root of the scoring API."""

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import Gauge
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import ConnectionFailure

from services.scoring.api.annual_report import annual_report_router
from services.scoring.api.assessment import JudgedMemo, assessment_router
from services.scoring.api.audit import audit_router
from services.scoring.api.board import board_router
from services.scoring.api.branches import branches_router
from services.scoring.api.computed import Computed
from services.scoring.api.exports import exports_router
from services.scoring.api.finalisation import finalisation_router
from services.scoring.api.grades import grades_router
from services.scoring.api.member_scores import member_scores_router
from services.scoring.api.members import members_router
from services.scoring.api.rankings import (
    STREAM_LIFETIME_S,
    STREAMS_PER_TOKEN,
    RankingCache,
    StreamSlots,
    rankings_router,
)
from services.scoring.api.read_model import MongoReadModel
from services.scoring.api.review_page import review_page_router
from services.scoring.api.review_proxy import review_proxy_router
from services.scoring.api.score_view import FeedFollower
from services.scoring.api.stats import stats_router
from services.scoring.api.submissions import submissions_router
from services.scoring.api.summary import summary_router
from services.scoring.generations import Generation, MongoGenerations
from services.scoring.reminders.wiring import Reminders
from services.scoring.rulebooks import DEFAULT_RULEBOOK, parse_rulebook_text, read_rulebook_text
from services.scoring.score_feed import feed_topic
from shared import mongo
from shared.auth import Authenticator, AuthSettings
from shared.docs import install_docs
from shared.health import health_router
from shared.kafka import KafkaPublisher
from shared.limits import BODY_READ_TIMEOUT_S, BodyLimit
from shared.metrics import instrument
from shared.org import REGISTRY, MongoCourtOf, RegistryCourtOf
from shared.problems import Problem
from shared.problems import install as install_problems
from shared.settings import KafkaSettings, MongoSettings

log = logging.getLogger(__name__)
UNREGISTERED = Gauge(
    "scoring_unregistered_branches", "Branch ids with scores in the live generation that nobody registered."
)


class ApiSettings(BaseSettings):
    """Read from SCORING_API_* (and KAFKA_*, MONGO_*, AUTH_*)."""

    model_config = SettingsConfigDict(env_prefix="SCORING_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    rulebook: Path = DEFAULT_RULEBOOK  # the rulebook until a generation pointer names its own
    city: str = "沧州市 Cangzhou"
    report_font: Path | None = None  # the CJK TrueType font the annual PDF embeds (found if unset)
    streams_per_token: int = STREAMS_PER_TOKEN
    stream_lifetime_s: float = STREAM_LIFETIME_S
    body_read_timeout_s: float = BODY_READ_TIMEOUT_S
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)


async def database_away(request: Request, exc: Exception) -> Response:
    """503 with Retry-After, as the intake services answer: the request was fine, the database away."""
    detail = "the database did not answer: retry after Retry-After seconds"
    problem = Problem(503, "Service Unavailable", detail, headers={"Retry-After": "2"})
    return problem.response(request.url.path)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    client = mongo.connect(settings.mongo, "scoring-api")
    # The API only reads Kafka's health (readiness); it never writes there.
    kafka = KafkaPublisher(settings.kafka, client_id="scoring-api-health")

    db = mongo.database(client, settings.mongo)
    generations = MongoGenerations(db)
    rulebook_text = read_rulebook_text(settings.rulebook)

    async def live_generation() -> Generation:
        return await generations.active()

    follower = FeedFollower(
        settings.kafka,
        feed_topic(settings.mongo.database),
        live_generation,
        parse_rulebook_text(rulebook_text),
    )

    async def first_pointer() -> None:
        """Without a pointer yet (a fresh system), make generation 1 under the file's rulebook."""
        while True:
            try:
                await generations.ensure_first(rulebook_text)
                return
            except ConnectionFailure as err:
                log.warning("generation pointer: %s; trying again", err)
                await asyncio.sleep(2.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        tasks = [asyncio.create_task(follower.run()), asyncio.create_task(first_pointer())]
        tasks += app.state.reminders.tasks()  # the scheduler (one in the group) and the deliverer
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await kafka.stop()
        await client.close()

    app = FastAPI(
        title="Branch scores and rankings (党支部考评排名)",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # self-hosted (install_docs)
        redoc_url=None,
    )
    app.state.read_model = model = MongoReadModel(db, follower)
    # Answers over every branch are computed in slices, once per data version (see computed.py).
    # A reader waits for a recomputation under way up to `fresh_wait_s`, then gets the previous answer.
    app.state.rankings = RankingCache(Computed(max_entries=256, min_age_s=0.1, fresh_wait_s=0.25))
    app.state.computed_compliance = Computed(max_entries=64, min_age_s=0.25, fresh_wait_s=2.0)
    app.state.judged = JudgedMemo()
    app.state.computed_advanced = Computed(max_entries=16, min_age_s=0.25, fresh_wait_s=2.0)
    app.state.computed_stats = Computed(max_entries=64, min_age_s=1.0, fresh_wait_s=2.0)
    app.state.computed_registry = Computed(
        max_entries=4, min_age_s=0.0, fresh_wait_s=60.0
    )  # after a PUT: fresh
    app.state.stream_slots = StreamSlots(settings.streams_per_token)
    app.state.stream_lifetime_s = settings.stream_lifetime_s
    app.state.clock = lambda: datetime.now(UTC)
    UNREGISTERED.set_function(model.unregistered_count)
    app.state.authenticator = Authenticator(settings.auth)
    app.state.org = RegistryCourtOf(model.branches, MongoCourtOf(db[REGISTRY]))  # for shared.auth
    install_problems(app)
    install_docs(app)
    app.add_exception_handler(ConnectionFailure, database_away)
    instrument(app, "scoring-api")
    app.add_middleware(BodyLimit, max_bytes=64 * 1024, read_timeout_s=settings.body_read_timeout_s)
    checks = {"kafka": kafka.check, "mongodb": lambda: mongo.check(client), "scores": follower.check}
    app.include_router(health_router(checks))
    app.include_router(rankings_router())
    app.include_router(branches_router(settings.city))
    app.include_router(stats_router())
    app.include_router(assessment_router())
    app.include_router(board_router())
    app.include_router(summary_router(settings.city))
    app.include_router(audit_router(settings.kafka))  # GET /v1/audit; the API's own audit events
    app.include_router(exports_router())
    app.include_router(submissions_router(settings.kafka))  # GET /v1/submissions (审核)
    app.include_router(review_proxy_router())  # the review page's decisions and evidence reads
    app.include_router(review_page_router())  # GET /review
    file_rulebook = parse_rulebook_text(rulebook_text)
    app.state.reminders = Reminders(app, settings.kafka, db, file_rulebook, app.state.clock)
    app.include_router(app.state.reminders.router)  # /v1/subscriptions, /v1/reminders:run
    app.include_router(members_router(settings.kafka))  # the member registry; follows the registry topic
    app.include_router(finalisation_router(settings.kafka))  # closing the year: versions and appeals
    app.include_router(annual_report_router(settings.city, settings.report_font))
    app.include_router(grades_router())  # GET /v1/grades, /v1/excellent: the yearly examination
    app.include_router(member_scores_router())  # members' scores, from the feed's member records
    return app
