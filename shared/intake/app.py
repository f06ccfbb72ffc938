"""Composition root shared by the intake services: settings, adapters and routes wired into one app."""

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import mongo
from shared.audit import Auditor
from shared.auth import Authenticator, AuthSettings
from shared.contracts import Contract, Stream
from shared.docs import install_docs
from shared.health import health_router
from shared.intake import metrics as intake_metrics
from shared.intake.accept import Intake
from shared.intake.bodies import MAX_BATCH
from shared.intake.evidence_routes import evidence_router
from shared.intake.evidence_store import MongoEvidenceStore
from shared.intake.receipts import MongoReceiptStore
from shared.intake.review_routes import review_router
from shared.intake.routes import intake_router
from shared.intake.upload_limit import UploadAwareBodyLimit
from shared.kafka import KafkaPublisher, ensure_topics
from shared.metrics import instrument
from shared.org import REGISTRY, MongoCourtOf
from shared.problems import install as install_problems
from shared.review import read_policy
from shared.settings import HttpSettings, KafkaSettings, MongoSettings, TimeWindowSettings

log = logging.getLogger(__name__)


class IntakeSettings(HttpSettings):
    """Settings of one intake service; each service sets its env prefix and port."""

    model_config = SettingsConfigDict(extra="ignore")

    max_body_bytes: int = 4 * 1024 * 1024  # a full batch of 500 records fits comfortably
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    time_window: TimeWindowSettings = Field(default_factory=TimeWindowSettings)
    # The rulebook whose [review] table names the kinds a member's or clerk's record needs review for.
    rulebook: Path = Path(__file__).resolve().parents[2] / "services" / "scoring" / "rulebook.toml"


@dataclass(frozen=True)
class IntakeSpec:
    """What distinguishes one intake service from another."""

    name: str  # the service, also the CloudEvents source
    title: str
    stream: Stream
    resource: str
    model: type[Contract]


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    spec: IntakeSpec, settings: IntakeSettings, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The intake service's FastAPI app; tests call this too (with their own clock if they like)."""
    publisher = KafkaPublisher(settings.kafka, client_id=spec.name)
    client = mongo.connect(settings.mongo, spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        try:
            await ensure_topics(settings.kafka)
        except Exception as err:  # the broker may come later; readiness reports it meanwhile
            log.warning("could not ensure topics at start: %s", type(err).__name__)
        yield
        await publisher.stop()
        await client.close()

    app = FastAPI(
        title=spec.title,
        version="1",
        lifespan=lifespan,
        docs_url=None,  # self-hosted below (install_docs)
        redoc_url=None,
        description=f"Accepts {spec.resource} and publishes them as CloudEvents onto "
        f"Kafka. Batches take up to {MAX_BATCH} records.",
    )
    db = mongo.database(client, settings.mongo)
    receipts = MongoReceiptStore(db["intake_receipts"], db["intake_published"])
    window = settings.time_window.window()
    app.state.intake = Intake(spec.stream, spec.name, receipts, publisher, clock, window)
    app.state.authenticator = Authenticator(settings.auth)
    app.state.auditor = Auditor(publisher, settings.kafka, spec.name)  # the audit trail (shared/audit.py)
    app.state.org = MongoCourtOf(db[REGISTRY])  # a branch's court, for the writers' reach
    app.state.review_policy = read_policy(settings.rulebook)  # 审核: the rulebook's [review]
    app.state.evidence = MongoEvidenceStore(db["evidence_files"], db["evidence_attached"])
    install_problems(app)
    install_docs(app)
    instrument(app, spec.name)
    intake_metrics.declare(spec.name, spec.stream)
    app.add_middleware(UploadAwareBodyLimit, max_bytes=settings.max_body_bytes)  # evidence: 10 MB
    app.include_router(health_router({"kafka": publisher.check, "mongodb": lambda: mongo.check(client)}))
    app.include_router(intake_router(spec.resource, spec.model))
    app.include_router(review_router(spec.resource))  # :approve, :decline
    app.include_router(evidence_router(spec.resource))
    return app
