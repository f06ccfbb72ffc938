"""Settings pieces the services compose; each service's own class inherits the ones it needs."""

from datetime import timedelta

from pydantic import AwareDatetime, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts import DEFAULT_TIME_WINDOW, TimeWindow


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


class TimeWindowSettings(BaseSettings):
    """The window every record's time must lie in; read from TIME_WINDOW_* (intake and worker alike)."""

    model_config = SettingsConfigDict(env_prefix="TIME_WINDOW_", extra="ignore")

    earliest: AwareDatetime = DEFAULT_TIME_WINDOW.earliest
    # Bounded: a margin of years would let records into periods nobody has reached yet.
    ahead_s: float = Field(default=DEFAULT_TIME_WINDOW.ahead.total_seconds(), ge=0, le=366 * 86_400)

    def window(self) -> TimeWindow:
        return TimeWindow(self.earliest, timedelta(seconds=self.ahead_s))
