"""Composition root of the training service."""

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from shared.contracts import Stream, TrainingCompleted
from shared.intake.app import IntakeSettings, IntakeSpec
from shared.intake.app import create_app as create_intake_app

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


def create_app(settings: TrainingSettings | None = None) -> FastAPI:
    return create_intake_app(SPEC, settings or TrainingSettings())
