"""Prometheus metrics of the process (served by the relay at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Iterable

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
