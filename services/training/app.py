"""Composition root of the training service."""

from fastapi import FastAPI
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.training.examination import EvaluationBallot, ballot_hasher, voter_of
from shared.contracts import MemberAppraised, Stream, TrainingCompleted
from shared.intake.app import IntakeSettings, IntakeSpec
from shared.intake.app import create_app as create_intake_app
from shared.intake.routes import intake_router

SPEC = IntakeSpec(
    name="training",
    title="Political-training completions (政治学习与组织生活)",
    stream=Stream.TRAINING,
    resource="completions",
    model=TrainingCompleted,
)


class TrainingSettings(IntakeSettings):
    """Read from TRAINING_* (and KAFKA_*, MONGO_*, AUTH_* for the shared pieces)."""

    model_config = SettingsConfigDict(env_prefix="TRAINING_", extra="ignore")

    port: int = 8003
    voter_salt: SecretStr | None = None  # the secret of the ballots' voter hashes; none: no ballots


def create_app(settings: TrainingSettings | None = None) -> FastAPI:
    settings = settings or TrainingSettings()
    app = create_intake_app(SPEC, settings)
    # The yearly examination's records travel on the training stream (organisational life).
    hashed = ballot_hasher(settings.voter_salt)
    app.include_router(intake_router("evaluations", EvaluationBallot, hashed, voter_of))
    app.include_router(intake_router("appraisals", MemberAppraised))
    return app
