"""The reminders' Prometheus metrics (served by the scoring API's /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

PUBLISHED = Counter("reminders_published_total", "Reminders the scheduler published, by type.", ["type"])
LEADER = Gauge("reminders_scheduler_leader", "1 while this process holds the schedule (one in the group).")
DELIVERIES = Counter(
    "reminder_deliveries_total",
    "Webhook deliveries by format and outcome: delivered, failed_attempt (retried or last), dead_lettered.",
    ["format", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "reminder_delivery_seconds",
    "Time of one webhook request, by format (failed tries included).",
    ["format"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
