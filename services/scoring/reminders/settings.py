"""The reminders' settings, from SCORING_REMINDERS_* (the allow-list, the schedule, the retries)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RemindersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_REMINDERS_", extra="ignore")

    # Where webhooks may go: networks (CIDR) and host names ("*.example.org" for subdomains), comma
    # separated. Empty (the default): nowhere. deploy/local/dev.env allows loopback for `make up`.
    allow: str = ""
    enabled: bool = True  # schedule and deliver in this API process (the group elects one scheduler)
    poll_s: float = Field(default=10.0, gt=0)  # how often the scheduler looks for a new day or data
    attempts: int = Field(default=5, ge=1, le=20)  # tries per delivery before it is dead-lettered
    backoff_s: float = Field(default=1.0, gt=0)  # the first wait; each next one doubles
    backoff_max_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)  # per request
    # The groups' names before ".<database>": one scheduler and one delivery group per database.
    scheduler_group: str = "scoring-reminders-scheduler"
    delivery_group: str = "scoring-reminders-delivery"
