"""Composition root of the scoring API."""

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import ConnectionFailure

from services.scoring.api.assessment import assessment_router
from services.scoring.api.board import board_router
from services.scoring.api.branches import branches_router
from services.scoring.api.rankings import RankingCache, rankings_router
from services.scoring.api.read_model import MongoReadModel
from services.scoring.api.score_view import FeedFollower
from services.scoring.api.stats import stats_router
from services.scoring.generations import MongoGenerations
from services.scoring.rulebooks import DEFAULT_RULEBOOK, load_rulebook
from services.scoring.score_feed import feed_topic
from shared import mongo
from shared.auth import Authenticator, AuthSettings
from shared.health import health_router
from shared.kafka import KafkaPublisher
from shared.limits import BodyLimit
from shared.metrics import instrument
from shared.problems import Problem
from shared.problems import install as install_problems
from shared.settings import KafkaSettings, MongoSettings


class ApiSettings(BaseSettings):
    """Read from SCORING_API_* (and KAFKA_*, MONGO_*, AUTH_*)."""

    model_config = SettingsConfigDict(env_prefix="SCORING_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    rulebook: Path = DEFAULT_RULEBOOK
    city: str = "沧州市 Cangzhou"
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

    async def live_generation() -> int:
        return (await generations.active()).number

    follower = FeedFollower(settings.kafka, feed_topic(settings.mongo.database), live_generation)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        following = asyncio.create_task(follower.run())
        yield
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await kafka.stop()
        await client.close()

    app = FastAPI(title="Branch scores and rankings (党支部考评排名)", version="1", lifespan=lifespan)
    app.state.read_model = MongoReadModel(db, follower)
    app.state.rankings = RankingCache()
    app.state.rulebook = load_rulebook(settings.rulebook)
    app.state.clock = lambda: datetime.now(UTC)
    app.state.authenticator = Authenticator(settings.auth)
    install_problems(app)
    app.add_exception_handler(ConnectionFailure, database_away)
    instrument(app, "scoring-api")
    app.add_middleware(BodyLimit, max_bytes=64 * 1024)
    checks = {"kafka": kafka.check, "mongodb": lambda: mongo.check(client), "scores": follower.check}
    app.include_router(health_router(checks))
    app.include_router(rankings_router())
    app.include_router(branches_router(settings.city))
    app.include_router(stats_router())
    app.include_router(assessment_router())
    app.include_router(board_router())
    return app
