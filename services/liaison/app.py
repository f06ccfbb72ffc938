"""Composition root of the liaison service."""

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from shared.contracts import LiaisonContactMade, Stream
from shared.intake.app import IntakeSettings, IntakeSpec
from shared.intake.app import create_app as create_intake_app

SPEC = IntakeSpec(
    name="liaison",
    title="Enterprise-liaison contacts (党建+法官联系人)",
    stream=Stream.LIAISON,
    resource="contacts",
    model=LiaisonContactMade,
)


class LiaisonSettings(IntakeSettings):
    """Read from LIAISON_* (and KAFKA_*, MONGO_*, AUTH_* for the shared pieces)."""

    model_config = SettingsConfigDict(env_prefix="LIAISON_", extra="ignore")

    port: int = 8002


def create_app(settings: LiaisonSettings | None = None) -> FastAPI:
    return create_intake_app(SPEC, settings or LiaisonSettings())
