"""Settings pieces the services compose; each service's own class inherits the ones it needs."""

from datetime import timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, Field, SecretStr, model_validator
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
    # Who this process is to the broker: PLAINTEXT (no login, the single-broker default) or
    # SASL_PLAINTEXT with a SCRAM user, which the three-broker cluster requires (its ACLs name the
    # user; deploy/local/stack.py gives each process its own).
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _reachable_isr(self) -> "KafkaSettings":
        # More in-sync replicas than replicas would refuse every acks=all write.
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas must not exceed replication_factor")
        return self

    @model_validator(mode="after")
    def _login_complete(self) -> "KafkaSettings":
        # A SASL listener with no user would fail every request later, far from the cause.
        if self.security_protocol != "PLAINTEXT" and not (
            self.sasl_username and self.sasl_password.get_secret_value()
        ):
            raise ValueError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        return self

    def client_options(self) -> dict[str, Any]:
        """Where the brokers are and how to log in: the keyword arguments of every aiokafka client
        (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol != "PLAINTEXT":
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return options


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
