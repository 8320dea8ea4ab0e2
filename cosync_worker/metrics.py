"""Prometheus metrics of the process (served by the relay at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "EVENTS_DEAD_LETTERED",
    "EVENTS_FAILED",
    "EVENTS_PROCESSED",
    "EVENTS_RECEIVED",
    "PROCESSING_SECONDS",
    "QUEUE_LAG_SECONDS",
    "REMOTE_CALLS",
    "WEBHOOK_EVENTS_ACCEPTED",
    "WEBHOOK_REJECTED",
]

EVENTS_RECEIVED = Counter("cosync_events_received_total", "Events taken from the queue", ["type"])
EVENTS_PROCESSED = Counter(
    "cosync_events_processed_total", "Events a connector handled successfully", ["type", "connector"]
)
EVENTS_FAILED = Counter(
    "cosync_events_failed_total", "Connector attempts that raised (retryable or not)", ["type", "connector"]
)
EVENTS_DEAD_LETTERED = Counter(
    "cosync_events_dead_lettered_total", "Events parked in the dead-letter queue", ["type", "connector"]
)
PROCESSING_SECONDS = Histogram(
    "cosync_event_processing_seconds",
    "Time from receive to ack of one event",
    ["type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
)
QUEUE_LAG_SECONDS = Gauge("cosync_queue_lag_seconds", "Age of the last event received when it was received")
REMOTE_CALLS = Counter(
    "cosync_remote_calls_total", "Calls to a remote service by outcome", ["service", "operation", "outcome"]
)
WEBHOOK_EVENTS_ACCEPTED = Counter(
    "cosync_webhook_events_accepted_total", "Webhook events enqueued", ["route"]
)
WEBHOOK_REJECTED = Counter("cosync_webhook_rejected_total", "Webhook requests refused", ["reason"])
