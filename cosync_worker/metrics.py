"""Prometheus metrics of the process (served by the relay at ``/metrics``)."""

from __future__ import annotations

import platform
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from . import __version__

__all__ = [
    "BUILD_INFO",
    "DLQ_DEPTH",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_FAILED",
    "EVENTS_PROCESSED",
    "EVENTS_RECEIVED",
    "HELD_WRITES",
    "HELD_WRITES_DONE",
    "LOOP_LAST_SUCCESS",
    "PROCESSING_SECONDS",
    "QUEUE_DEPTH",
    "QUEUE_LAG_SECONDS",
    "QUEUE_OLDEST_AGE",
    "RELAY_REQUESTS",
    "RELAY_REQUEST_SECONDS",
    "REMOTE_CALLS",
    "REMOTE_WRITES_24H",
    "WEBHOOK_EVENTS_ACCEPTED",
    "WEBHOOK_REJECTED",
    "declare_event_types",
    "event_type_label",
]

# Every label value is a new series kept for the life of the process, and an event's type comes from
# outside (any ``deal.<anything>`` a webhook names): labels therefore take their values from a closed set,
# and every other type is counted under this one label.
OTHER = "other"

# The types the core's parsers produce from documented sources.
# https://developers.hubspot.com/docs/api/webhooks#webhook-subscriptions
_HUBSPOT_OBJECTS = ("contact", "company", "deal", "ticket", "product", "line_item", "conversation")
_HUBSPOT_CHANGES = ("creation", "deletion", "propertyChange", "associationChange", "merge", "restore")
# The types of EventBridge sources come from the plugins that declare them (``cosync_event_sources``).
_known_types: set[str] = {
    *(f"{obj}.{change}" for obj in _HUBSPOT_OBJECTS for change in _HUBSPOT_CHANGES),
    "contact.privacyDeletion",
    "conversation.privacyDeletion",
    "conversation.newMessage",
}


def declare_event_types(types: Iterable[str]) -> None:
    """Add the exact types an installed connector declares (its own events, its schedules' ticks). A glob
    such as ``deal.*`` adds nothing: the core's types it matches are known already, and the rest of what
    it matches is caller-controlled."""
    _known_types.update(t for t in types if not _is_glob(t))


def event_type_label(event_type: str) -> str:
    """The ``type`` label of an event: its type when declared, else :data:`OTHER`."""
    return event_type if event_type in _known_types else OTHER


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


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

# Refreshed from the queue and the store each time /metrics is scraped (the whole deployment's view, not
# this process's), so every replica reports the same values.
QUEUE_DEPTH = Gauge("cosync_queue_depth", "Messages waiting in the queue")
QUEUE_OLDEST_AGE = Gauge("cosync_queue_oldest_message_age_seconds", "Age of the oldest waiting message")
DLQ_DEPTH = Gauge("cosync_dlq_depth", "Messages in the dead-letter queue")
LOOP_LAST_SUCCESS = Gauge(
    "cosync_loop_last_success_timestamp_seconds", "Last successful tick of each scheduled loop", ["loop"]
)
REMOTE_WRITES_24H = Gauge(
    "cosync_remote_writes_24h",
    "Remote writes of a connector in the rolling 24 h (its daily quota)",
    ["connector"],
)
HELD_WRITES = Gauge(
    "cosync_held_objects", "Objects held for a busy write budget, as this process last saw them (write_hold)"
)
HELD_WRITES_DONE = Counter(
    "cosync_held_writes_total", "Held objects the drain wrote, or queued after a failed write", ["outcome"]
)
BUILD_INFO = Gauge("cosync_build_info", "Always 1: the running version", ["version", "python"])
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)
# ``route`` is the template a request matched (``/jobs/{id}``), never its path; an unmatched request is
# ``other``, so scanners cannot grow the series.
RELAY_REQUESTS = Counter(
    "cosync_relay_requests_total", "Relay requests by route template, method and status class",
    ["route", "method", "status"],
)  # fmt: skip
RELAY_REQUEST_SECONDS = Histogram(
    "cosync_relay_request_seconds",
    "Relay request latency by route template",
    ["route", "method"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
