"""Parsers from each source's wire format into :class:`Event`.

Every parser raises :class:`InvalidEvent` naming the field at fault; none lets a ``KeyError`` or a
``ValidationError`` escape, so the worker can dead-letter bad input with a readable reason.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from .envelope import Event, ObjectRef
from .sources import event_source, known_sources, slug

__all__ = [
    "MAX_JSON_DEPTH",
    "InvalidEvent",
    "check_json_value",
    "decode_message",
    "load_json",
    "parse_eventbridge_event",
    "parse_hubspot_batch",
    "parse_hubspot_event",
    "schedule_tick",
]

# The documented HubSpot object types of webhook subscriptions (``deal.creation`` -> ``deal``).
_HUBSPOT_OBJECTS = {"deal", "contact", "company", "ticket", "product", "line_item", "conversation"}


# HubSpot sends flat events; anything nested this deep is hostile, and deeper still exhausts the recursion of
# json and of the serialisers downstream (a RecursionError instead of an answer).
MAX_JSON_DEPTH = 32
# HubSpot object and event ids are 64-bit integers (at most 20 digits); as path segments of HubSpot API calls
# and parts of the 128-character ordering and dedupe keys, nothing else may pass.
_HUBSPOT_ID = re.compile(r"[0-9]{1,20}")
# Ids given to ``parse_hubspot_event`` by our own code and tests: still never a path (no ``/``, no ``..``).
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CHANGE = re.compile(r"[A-Za-z]{1,64}")
_SURROGATE = re.compile("[\ud800-\udfff]")
# 9999-12-31T23:59:59.999Z: the last instant a datetime can hold.
_MAX_EPOCH_MS = 253_402_300_799_999


class InvalidEvent(ValueError):
    """Input that cannot become an :class:`Event`; the message names the field at fault.

    ``problem`` never quotes the input: the relay returns it to the sender.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_json_value(data: Any, max_depth: int = MAX_JSON_DEPTH, path: str = "") -> None:
    """Raise :class:`InvalidEvent` naming the first value no queue or store can hold faithfully: NaN or an
    infinity (``json`` accepts them; JSON does not), a lone UTF-16 surrogate (not Unicode, so not UTF-8), or
    nesting deeper than ``max_depth``. ``path`` names ``data`` in the message (``""``: the body itself).
    Iterative, so hostile depth cannot exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(data, path, 0)]
    while stack:
        value, path, depth = stack.pop()
        where = path or "body"
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidEvent(where, "must be a finite number (NaN and Infinity are not JSON)")
        if isinstance(value, str) and _SURROGATE.search(value):
            raise InvalidEvent(where, "holds a lone UTF-16 surrogate, which is not valid Unicode")
        if isinstance(value, dict | list) and depth >= max_depth:
            raise InvalidEvent(where, f"nests deeper than {max_depth} levels")
        if isinstance(value, dict):
            children: list[tuple[Any, str]] = []
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise InvalidEvent(where, "has a key holding a lone UTF-16 surrogate")
                children.append((item, _child(path, str(key))))
            stack.extend((v, p, depth + 1) for v, p in reversed(children))
        elif isinstance(value, list):
            stack.extend((v, _child(path, i), depth + 1) for i, v in reversed(list(enumerate(value))))


def load_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text as Python values, refused with :class:`InvalidEvent` (field ``body`` or the path of the bad
    value) when it is not JSON or holds what :func:`check_json_value` refuses."""
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidEvent("body", "is not UTF-8 text") from None
    except RecursionError:
        raise InvalidEvent("body", f"nests deeper than {max_depth} levels") from None
    except ValueError as exc:
        # JSONDecodeError says where (line, column), never what: safe to return.
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number is too long"
        position = (
            f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise InvalidEvent("body", f"is not valid JSON ({reason}{position})") from None
    check_json_value(data, max_depth)
    return data


def _require(data: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in data or data[key] is None:
        raise InvalidEvent(f"{where}{key}", "is required")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidEvent(f"{where}{key}", f"must be {names}, got {type(value).__name__}")
    return value


def _hubspot_id(item: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> str:
    value = _require(item, key, where, (int, str))
    text = str(value)
    if not pattern.fullmatch(text):
        expected = (
            "a HubSpot id (up to 20 digits)" if pattern is _HUBSPOT_ID else "up to 64 of A-Z a-z 0-9 _ -"
        )
        raise InvalidEvent(f"{where}{key}", f"must be {expected}")
    return text


def _occurred_at(item: Mapping[str, Any], where: str) -> datetime:
    occurred = item.get("occurredAt")
    if occurred is None:
        return datetime.now(UTC)
    if not isinstance(occurred, int | float) or isinstance(occurred, bool):
        raise InvalidEvent(f"{where}occurredAt", "must be epoch milliseconds")
    if not (isinstance(occurred, int) or math.isfinite(occurred)) or not 0 <= occurred <= _MAX_EPOCH_MS:
        raise InvalidEvent(f"{where}occurredAt", "must be epoch milliseconds between 1970 and 9999")
    return datetime.fromtimestamp(occurred / 1000, UTC) if occurred else datetime.now(UTC)


def parse_hubspot_event(item: Any, index: int = 0) -> Event:
    """One element of a HubSpot webhook batch (``subscriptionType``, ``objectId``, ``eventId``...).

    Shape: https://developers.hubspot.com/docs/api/webhooks#webhook-payloads
    """
    return _hubspot_event(item, index, _SAFE_ID)


def _hubspot_event(item: Any, index: int, ids: re.Pattern[str]) -> Event:
    where = f"[{index}]."
    if not isinstance(item, Mapping):
        raise InvalidEvent(f"[{index}]", f"must be an object, got {type(item).__name__}")
    sub_type = _require(item, "subscriptionType", where)
    obj_type, _, change = sub_type.partition(".")
    if not change or not _CHANGE.fullmatch(change):
        raise InvalidEvent(
            f"{where}subscriptionType", "must be '<object>.<change>', e.g. deal.propertyChange"
        )
    if obj_type not in _HUBSPOT_OBJECTS:
        raise InvalidEvent(
            f"{where}subscriptionType", f"unknown object type (one of {', '.join(sorted(_HUBSPOT_OBJECTS))})"
        )
    # An association change names its two ends, not an object: the event is the first end's (HubSpot sends
    # one per end, each with itself as ``fromObjectId``).
    id_field = "fromObjectId" if change == "associationChange" and "objectId" not in item else "objectId"
    object_id = _hubspot_id(item, id_field, where, ids)
    event_id = _hubspot_id(item, "eventId", where, ids)
    received = _occurred_at(item, where)
    check_json_value(dict(item), MAX_JSON_DEPTH - 1, f"[{index}]")
    ref = ObjectRef(system="hubspot", type=obj_type, id=object_id)
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
    """A whole webhook POST body (a JSON array); all-or-nothing so a batch is never half-queued. Ids must be
    HubSpot's numeric ones: this is the edge where the outside world's ids come in."""
    data = load_json(body) if isinstance(body, bytes | str) else body
    if not isinstance(data, list):
        raise InvalidEvent("body", f"must be a JSON array of events, got {type(data).__name__}")
    return [_hubspot_event(item, i, _HUBSPOT_ID) for i, item in enumerate(data)]


def parse_eventbridge_event(data: Any) -> Event:
    """An event as EventBridge delivers it to SQS (the envelope is the message body), from a source a plugin
    declared (``cosync_event_sources``)."""
    if not isinstance(data, Mapping):
        raise InvalidEvent("body", "must be an EventBridge event object")
    source = _require(data, "source", "")
    spec = event_source(source)
    if spec is None:
        expected = ", ".join(repr(s) for s in known_sources()) or "none is declared"
        raise InvalidEvent("source", f"unknown source {source!r}, expected one of: {expected}")
    detail_type = _require(data, "detail-type", "")
    event_id = _require(data, "id", "")
    detail = _require(data, "detail", "", dict)
    prefix = next((p for p in sorted(spec.objects, key=len, reverse=True) if detail_type.startswith(p)), None)
    if prefix is None:
        raise InvalidEvent("detail-type", f"unknown {spec.label or source} event {detail_type!r}")
    obj_type, keys = spec.objects[prefix]
    ident = None
    for key in keys:
        sub = detail.get(key)
        if isinstance(sub, Mapping):
            ident = sub.get("identifier") or sub.get("id") or sub.get("Identifier")
            if ident:
                break
    if not ident or not isinstance(ident, str):
        raise InvalidEvent(f"detail.{keys[0]}.identifier", "is required")
    scope = [str(detail.get(spec.scope_key, spec.scope_default))] if spec.scope_key else []
    ref = ObjectRef(system=spec.system, type=obj_type, id=ident)
    time = data.get("time")
    try:
        received = datetime.fromisoformat(time.replace("Z", "+00:00")) if isinstance(time, str) else None
    except ValueError:
        raise InvalidEvent("time", f"{time!r} is not an ISO 8601 timestamp") from None
    return Event(
        id=str(uuid.uuid4()),
        source="eventbridge",
        type=f"{spec.system}.{slug(detail_type)}",
        object=ref,
        ordering_key=":".join([spec.system, *scope, obj_type, ident])[:128],
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
    data = load_json(body)
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
