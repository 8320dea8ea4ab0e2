"""Parsers from each source's wire format into :class:`Event`.

Every parser raises :class:`InvalidEvent` naming the field at fault; none lets a ``KeyError`` or a
``ValidationError`` escape, so the worker can dead-letter bad input with a readable reason.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from .envelope import Event, ObjectRef

__all__ = [
    "EVENTBRIDGE_SOURCE",
    "InvalidEvent",
    "decode_message",
    "parse_eventbridge_event",
    "parse_hubspot_batch",
    "parse_hubspot_event",
    "schedule_tick",
]

EVENTBRIDGE_SOURCE = "aws.partnercentral-selling"

# The documented HubSpot object types of webhook subscriptions (``deal.creation`` -> ``deal``).
_HUBSPOT_OBJECTS = {"deal", "contact", "company", "ticket", "product", "line_item", "conversation"}

# Partner Central detail-types name what the event is about; the detail key holds its identifier.
# https://docs.aws.amazon.com/partner-central/latest/selling-api/selling-api-events.html
_PC_OBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Opportunity": ("opportunity", ("opportunity",)),
    "Engagement Invitation": ("engagement_invitation", ("engagementInvitation", "invitation")),
    "Engagement Member": ("engagement", ("engagement",)),
    "Resource Snapshot": ("resource_snapshot", ("resourceSnapshot", "opportunity")),
    "Engagement Resource Snapshot": ("engagement", ("engagement", "resourceSnapshot")),
}


class InvalidEvent(ValueError):
    """Input that cannot become an :class:`Event`; the message names the field at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _require(data: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in data or data[key] is None:
        raise InvalidEvent(f"{where}{key}", "is required")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidEvent(f"{where}{key}", f"must be {names}, got {type(value).__name__}")
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def parse_hubspot_event(item: Any, index: int = 0) -> Event:
    """One element of a HubSpot webhook batch (``subscriptionType``, ``objectId``, ``eventId``...).

    Shape: https://developers.hubspot.com/docs/api/webhooks#webhook-payloads
    """
    where = f"[{index}]."
    if not isinstance(item, Mapping):
        raise InvalidEvent(f"[{index}]", f"must be an object, got {type(item).__name__}")
    sub_type = _require(item, "subscriptionType", where)
    if "." not in sub_type:
        raise InvalidEvent(f"{where}subscriptionType", f"{sub_type!r} is not '<object>.<change>'")
    obj_type = sub_type.split(".", 1)[0]
    if obj_type not in _HUBSPOT_OBJECTS:
        raise InvalidEvent(f"{where}subscriptionType", f"unknown object type {obj_type!r}")
    object_id = _require(item, "objectId", where, (int, str))
    event_id = _require(item, "eventId", where, (int, str))
    occurred = item.get("occurredAt")
    if occurred is not None and (not isinstance(occurred, int | float) or isinstance(occurred, bool)):
        raise InvalidEvent(f"{where}occurredAt", "must be epoch milliseconds")
    received = datetime.fromtimestamp(occurred / 1000, UTC) if occurred else datetime.now(UTC)
    ref = ObjectRef(system="hubspot", type=obj_type, id=str(object_id))
    return Event(
        id=str(uuid.uuid4()),
        source="hubspot",
        type=sub_type,
        object=ref,
        ordering_key=ref.key,
        dedupe_key=f"hubspot:{event_id}",
        payload=dict(item),
        received_at=received,
    )


def parse_hubspot_batch(body: bytes | str | list[Any]) -> list[Event]:
    """A whole webhook POST body (a JSON array); all-or-nothing so a batch is never half-queued."""
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEvent("body", f"is not valid JSON ({exc})") from None
    else:
        data = body
    if not isinstance(data, list):
        raise InvalidEvent("body", f"must be a JSON array of events, got {type(data).__name__}")
    return [parse_hubspot_event(item, i) for i, item in enumerate(data)]


def parse_eventbridge_event(data: Any) -> Event:
    """A Partner Central event as EventBridge delivers it to SQS (the envelope is the message body)."""
    if not isinstance(data, Mapping):
        raise InvalidEvent("body", "must be an EventBridge event object")
    source = _require(data, "source", "")
    if source != EVENTBRIDGE_SOURCE:
        raise InvalidEvent("source", f"unknown source {source!r}, expected {EVENTBRIDGE_SOURCE!r}")
    detail_type = _require(data, "detail-type", "")
    event_id = _require(data, "id", "")
    detail = _require(data, "detail", "", dict)
    prefix = next((p for p in sorted(_PC_OBJECTS, key=len, reverse=True) if detail_type.startswith(p)), None)
    if prefix is None:
        raise InvalidEvent("detail-type", f"unknown Partner Central event {detail_type!r}")
    obj_type, keys = _PC_OBJECTS[prefix]
    ident = None
    for key in keys:
        sub = detail.get(key)
        if isinstance(sub, Mapping):
            ident = sub.get("identifier") or sub.get("id") or sub.get("Identifier")
            if ident:
                break
    if not ident or not isinstance(ident, str):
        raise InvalidEvent(f"detail.{keys[0]}.identifier", "is required")
    catalog = detail.get("catalog", "AWS")
    ref = ObjectRef(system="partnercentral", type=obj_type, id=ident)
    time = data.get("time")
    try:
        received = datetime.fromisoformat(time.replace("Z", "+00:00")) if isinstance(time, str) else None
    except ValueError:
        raise InvalidEvent("time", f"{time!r} is not an ISO 8601 timestamp") from None
    return Event(
        id=str(uuid.uuid4()),
        source="eventbridge",
        type=f"partnercentral.{_slug(detail_type)}",
        object=ref,
        ordering_key=f"partnercentral:{catalog}:{obj_type}:{ident}"[:128],
        dedupe_key=f"eventbridge:{event_id}"[:128],
        payload=dict(data),
        received_at=received or datetime.now(UTC),
    )


def schedule_tick(loop: str, slot: int, now: datetime | None = None) -> Event:
    """A scheduler tick; ``loop:slot`` as dedupe key makes N replicas produce one unit of work per slot."""
    ref = ObjectRef(system="cosync", type="schedule", id=loop)
    return Event(
        id=str(uuid.uuid4()),
        source="schedule",
        type=f"schedule.{loop}",
        object=ref,
        ordering_key=f"schedule:{loop}",
        dedupe_key=f"{loop}:{slot}",
        payload={"loop": loop, "slot": slot},
        received_at=now or datetime.now(UTC),
    )


def decode_message(body: str | bytes) -> Event:
    """Any queue message body: our own envelope, or a raw EventBridge event put there by the rule."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("body", f"is not valid JSON ({exc})") from None
    if isinstance(data, Mapping) and "detail-type" in data:
        return parse_eventbridge_event(data)
    if not isinstance(data, Mapping):
        raise InvalidEvent("body", f"must be a JSON object, got {type(data).__name__}")
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        raise InvalidEvent(field, err["msg"].lower()) from None
