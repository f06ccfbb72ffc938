"""The intake services' Prometheus metrics: events Kafka acknowledged, and writes it did not."""

from collections import Counter as Tally

from prometheus_client import Counter

from shared.contracts import EVENT_TYPES, Stream
from shared.kafka import FAILURE_REASONS

EVENTS_PUBLISHED = Counter(
    "intake_events_published",  # exposed as intake_events_published_total
    "Events Kafka acknowledged, by intake service and CloudEvents type.",
    ["service", "type"],
)
PUBLISH_FAILURES = Counter(
    "intake_publish_failures",  # exposed as intake_publish_failures_total
    "Events Kafka did not acknowledge (the sender got 503), by intake service and reason.",
    ["service", "reason"],
)


def declare(service: str, stream: Stream) -> None:
    """Show every series at 0 from the start, so rates and alerts work before the first event."""
    for name, event_type in EVENT_TYPES.items():
        if event_type.stream is stream:
            EVENTS_PUBLISHED.labels(service, name)
    for reason in FAILURE_REASONS:
        PUBLISH_FAILURES.labels(service, reason)


def count_published(service: str, event_types: list[str]) -> None:
    for name, n in Tally(event_types).items():
        EVENTS_PUBLISHED.labels(service, name).inc(n)


def count_failed(service: str, reason: str, n: int) -> None:
    PUBLISH_FAILURES.labels(service, reason).inc(n)
