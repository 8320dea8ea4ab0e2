"""The event envelope and the parsers that normalise every source into it."""

from .envelope import Event, ObjectRef, Source
from .parsers import (
    InvalidEvent,
    decode_message,
    parse_eventbridge_event,
    parse_hubspot_batch,
    parse_hubspot_event,
    schedule_tick,
)

__all__ = [
    "Event",
    "InvalidEvent",
    "ObjectRef",
    "Source",
    "decode_message",
    "parse_eventbridge_event",
    "parse_hubspot_batch",
    "parse_hubspot_event",
    "schedule_tick",
]
