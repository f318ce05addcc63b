"""Prometheus metrics of workers and the API (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter("hub_events_applied_total", "Events applied to a projection", ["consumer"])
DEAD_LETTERS = Counter(
    "hub_dead_letters_total", "Records sent to the dead-letter topic", ["consumer", "reason"]
)
REDELIVERIES_SKIPPED = Counter(
    "hub_redeliveries_skipped_total", "Records below the stored position, skipped", ["consumer"]
)
TRANSIENT_RETRIES = Counter(
    "hub_transient_retries_total", "Batches retried after a transient fault", ["consumer"]
)
BATCH_SIZE = Histogram(
    "hub_batch_records",
    "Records per applied batch",
    ["consumer"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_SECONDS = Histogram(
    "hub_batch_seconds",
    "Time to apply one batch, retries included",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "hub_consumer_lag_records", "Records not yet applied, per partition", ["consumer", "partition"]
)
