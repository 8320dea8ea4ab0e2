"""Plain declarations plugins return from hooks."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

__all__ = [
    "BODY_KEY",
    "ConnectorSpec",
    "NotificationChannelSpec",
    "PropertySpec",
    "RouteSpec",
    "ScheduleSpec",
    "request_body",
]


@dataclass(frozen=True)
class ScheduleSpec:
    """A timed sync loop; its ticks arrive as events of type ``schedule.<name>``.

    ``interval_seconds``/``jitter_seconds`` are defaults that ``schedules.<name>`` in config overrides.
    """

    name: str
    interval_seconds: float
    jitter_seconds: float = 0.0
    description: str = ""


@dataclass(frozen=True)
class ConnectorSpec:
    """What a connector is: its name, the event types it handles (glob patterns) and its schedules."""

    name: str
    event_types: tuple[str, ...] = ()
    config_model: type[BaseModel] | None = None
    schedules: tuple[ScheduleSpec, ...] = ()
    description: str = ""

    def handles(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types) or any(
            event_type == f"schedule.{s.name}" for s in self.schedules
        )


@dataclass(frozen=True)
class PropertySpec:
    """A HubSpot custom property (``POST /crm/v3/properties/{objectType}`` body fields)."""

    object_type: str
    name: str
    label: str
    type: Literal["string", "number", "date", "datetime", "enumeration", "bool"] = "string"
    field_type: str = "text"
    group_name: str = "cosync"
    description: str = ""
    options: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_hubspot(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
        }
        if self.options:
            body["options"] = list(self.options)
        return body


# Where the relay keeps a route's validated body (a typed key: aiohttp warns on plain string keys).
BODY_KEY: web.RequestKey[BaseModel] = web.RequestKey("cosync_body", BaseModel)
M = TypeVar("M", bound=BaseModel)


def request_body(request: web.Request, model: type[M]) -> M:
    """The body of a route declared with ``body_model=model``, already validated by the relay."""
    body = request[BODY_KEY]
    if not isinstance(body, model):
        raise TypeError(f"route body is {type(body).__name__}, not {model.__name__}: check the RouteSpec")
    return body


@dataclass(frozen=True)
class RouteSpec:
    """A REST route served by the relay; ``body_model``/``response_model`` feed validation and OpenAPI.

    With a ``body_model`` the handler reads the validated body with ``request_body(request, Model)``."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str = ""
    body_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    auth: bool = True
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotificationChannelSpec:
    """A notification channel a plugin offers (see ``docs/notifications.md``).

    ``factory(context, options)`` builds the channel object (``cosync_worker.notify.Channel``) from the validated
    ``notify.channels.<name>`` options dict; ``enabled_by_default`` channels run without any config.
    """

    name: str
    factory: Callable[[Any, dict[str, Any]], Any]
    enabled_by_default: bool = False
    description: str = ""
