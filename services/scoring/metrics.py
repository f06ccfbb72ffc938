"""The scoring worker's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "scoring_events_total", "Events the worker handled, by type and outcome.", ["type", "outcome"]
)
DEAD_LETTERED = Counter("scoring_dead_lettered_total", "Records sent to the dead-letter topic.", ["topic"])
END_TO_END = Histogram(
    "scoring_end_to_end_delay_seconds",
    "From the event's acceptance (envelope time) to its score being written.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
MONGO_WRITE = Histogram(
    "scoring_mongo_write_seconds",
    "Time to write one ledger and its period scores.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MONGO_ERRORS = Counter("scoring_mongo_errors_total", "MongoDB operations that failed (and were retried).")
BROKER_ERRORS = Counter(
    "scoring_broker_errors_total",
    "Kafka operations of the worker that failed (and were retried): routing, the score feed, dead letters.",
)
LAG = Gauge(
    "scoring_consumer_lag", "Records behind the end of each assigned partition.", ["topic", "partition"]
)
ASSIGNED = Gauge("scoring_assigned_partitions", "Event-topic partitions this worker owns now.")
OVERSIZE = Counter(
    "scoring_oversize_records_total",
    "Records too large to carry whole (dead-lettered truncated, with their size), by topic.",
    ["topic"],
)
REJECTED = Counter(
    "scoring_records_rejected_total",
    "Records refused for what they are (dead-lettered), by stage and reason class.",
    ["stage", "reason"],
)
ROUTED = Counter(
    "scoring_routed_total", "Input records re-keyed onto the worker's repartition topics.", ["topic"]
)
BATCH_FAILURES = Counter(
    "scoring_batch_failures_total", "Batches that failed unexpectedly and were retried (a bug: read the log)."
)
