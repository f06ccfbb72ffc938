"""Composition root of the volunteer service."""

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from shared.contracts import Stream, VolunteerDeployed
from shared.intake.app import IntakeSettings, IntakeSpec
from shared.intake.app import create_app as create_intake_app

SPEC = IntakeSpec(
    name="volunteer",
    title="Volunteer deployments (志愿服务)",
    stream=Stream.VOLUNTEER,
    resource="deployments",
    model=VolunteerDeployed,
)


class VolunteerSettings(IntakeSettings):
    """Read from VOLUNTEER_* (and KAFKA_*, MONGO_*, AUTH_* for the shared pieces)."""

    model_config = SettingsConfigDict(env_prefix="VOLUNTEER_", extra="ignore")

    port: int = 8001


def create_app(settings: VolunteerSettings | None = None) -> FastAPI:
    return create_intake_app(SPEC, settings or VolunteerSettings())
