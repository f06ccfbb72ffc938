"""Settings pieces the services compose; each service's own class inherits the ones it needs."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Where the broker is; read from KAFKA_* (shared by every service, like the broker itself)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Partitions per event topic: the unit of parallelism for scoring workers.
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = 10_000


class MongoSettings(BaseSettings):
    """Where the MongoDB-wire server is; read from MONGO_*."""

    model_config = SettingsConfigDict(env_prefix="MONGO_", extra="ignore")

    url: str = "mongodb://127.0.0.1:27017/"
    database: str = "partybuilding"
    server_selection_timeout_ms: int = 3_000


class HttpSettings(BaseSettings):
    """Where an HTTP process listens."""

    host: str = "127.0.0.1"
    port: int = 8000
