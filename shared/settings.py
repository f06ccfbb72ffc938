"""Settings pieces the services compose; each service's own class inherits the ones it needs."""

from datetime import timedelta

from pydantic import AwareDatetime, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts import DEFAULT_TIME_WINDOW, TimeWindow


class KafkaSettings(BaseSettings):
    """Where the broker is; read from KAFKA_* (shared by every service, like the broker itself)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Partitions per event topic: the unit of parallelism for scoring workers.
    partitions: int = Field(default=6, ge=1)
    # Replicas of every topic the system creates, and how many must hold a record before an
    # acks=all write succeeds; deploy/local/stack.py sets 3 and 2 for its three-broker cluster.
    replication_factor: int = Field(default=1, ge=1)
    min_insync_replicas: int = Field(default=1, ge=1)
    request_timeout_ms: int = 10_000

    @model_validator(mode="after")
    def _reachable_isr(self) -> "KafkaSettings":
        # More in-sync replicas than replicas would refuse every acks=all write.
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas must not exceed replication_factor")
        return self


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
