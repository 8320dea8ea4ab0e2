"""Plain declarations plugins return from hooks."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

__all__ = [
    "BODY_KEY",
    "QUERY_KEY",
    "ConflictObjectSpec",
    "ConnectorSpec",
    "DemoAction",
    "DemoCloudSpec",
    "DemoDeal",
    "EmulatorSpec",
    "EventSourceSpec",
    "NoticeKindSpec",
    "NotificationChannelSpec",
    "PropertySpec",
    "RouteSpec",
    "ScheduleSpec",
    "request_body",
    "request_query",
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


# Where the relay keeps a route's validated body and query (typed keys: aiohttp warns on plain string keys).
BODY_KEY: web.RequestKey[BaseModel] = web.RequestKey("cosync_body", BaseModel)
QUERY_KEY: web.RequestKey[BaseModel] = web.RequestKey("cosync_query", BaseModel)
M = TypeVar("M", bound=BaseModel)


def request_body(request: web.Request, model: type[M]) -> M:
    """The body of a route declared with ``body_model=model``, already validated by the relay."""
    body = request[BODY_KEY]
    if not isinstance(body, model):
        raise TypeError(f"route body is {type(body).__name__}, not {model.__name__}: check the RouteSpec")
    return body


def request_query(request: web.Request, model: type[M]) -> M:
    """The query parameters of a route declared with ``query_model=model``, already validated by the relay."""
    query = request[QUERY_KEY]
    if not isinstance(query, model):
        raise TypeError(f"route query is {type(query).__name__}, not {model.__name__}: check the RouteSpec")
    return query


@dataclass(frozen=True)
class RouteSpec:
    """A REST route served by the relay; the models feed validation and ``/openapi.json``.

    With a ``body_model`` the handler reads the validated body with ``request_body(request, Model)``; with a
    ``query_model`` (flat fields: strings, numbers, booleans, enums) the query string with
    ``request_query(request, Model)``, each field documented as a query parameter and a bad or unknown one
    refused with 400 naming ``query.<name>``. ``error_statuses`` are the error answers that are part of the
    route's contract (a 404 for an unknown id, a 409, a 503 with ``Retry-After``): documented as problem+json,
    worded by ``error_descriptions`` where given. Statuses the relay itself may answer (401, 400/413/422 for
    a body, 500) are documented without being listed."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str = ""
    body_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    auth: bool = True
    tags: tuple[str, ...] = ()
    query_model: type[BaseModel] | None = None
    error_statuses: tuple[int, ...] = ()
    error_descriptions: Mapping[int, str] = field(default_factory=dict)


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


@dataclass(frozen=True)
class NoticeKindSpec:
    """Notices a plugin sends: kinds ``<prefix>.<suffix>``, worded with ``display_name`` (``"Acme Cloud"``).

    ``suffixes`` picks entries of the catalogue's standard set (``None``: all of them; see
    ``cosync_worker.notify.catalogue``). ``rules`` adds kinds of the plugin's own: suffix ->
    ``rule(display_name, notice, settings)`` returning a ``cosync_worker.notify.Verdict``, or None when the notice
    is not worth telling the rep.
    """

    prefix: str
    display_name: str
    suffixes: tuple[str, ...] | None = None
    rules: Mapping[str, Callable[[str, Any, Any], Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EmulatorSpec:
    """An emulator of a plugin's remote service, started by ``cosync sandbox``, ``cosync demo`` and tests.

    ``factory(host, time_scale)`` builds it unstarted (a ``cosync_worker.sandbox.Emulator``); ``connection(emulator)``
    is its entry ``<name>`` in the sandbox's connection info (what ``cosync sandbox`` prints and
    ``cosync_sandbox_config`` reads); ``connect_queue(emulator, queue)``, when given, feeds the events the emulator
    publishes onto the worker's queue, as the real service's event bus would.
    """

    name: str
    factory: Callable[[str, float], Any]
    connection: Callable[[Any], dict[str, Any]]
    connect_queue: Callable[[Any, Any], None] | None = None
    description: str = ""


@dataclass(frozen=True)
class DemoDeal:
    """A deal the demo's rep enters in HubSpot; ``clouds`` are the connectors it should reach."""

    name: str
    amount: str
    stage: str
    company: dict[str, str]
    contact: dict[str, str]
    clouds: tuple[str, ...] = ()
    edits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoAction:
    """One move a cloud makes in ``cosync demo``: ``run(stack, http)`` acts through its emulator's operator API
    (``stack`` is the running ``SandboxStack``, ``http`` an ``aiohttp.ClientSession``). With ``lands_as`` the demo
    expects a HubSpot deal whose name contains it, reported under ``result``."""

    label: str
    run: Callable[[Any, Any], Awaitable[None]]
    lands_as: str = ""
    result: str = ""


@dataclass(frozen=True)
class DemoCloudSpec:
    """A connector's part in ``cosync demo``: its column, the deal properties that show its progress (the remote
    id once synced, the sync status until then), the tag that sends a deal to it, its own deal in the book,
    what its side sends (``incoming``) and how it then reviews what cosync sent (``reviews``, played after
    every cloud's ``incoming``)."""

    connector: str
    label: str
    deal_tag: str
    id_property: str
    status_property: str
    deal: DemoDeal | None = None
    incoming: tuple[DemoAction, ...] = ()
    reviews: tuple[DemoAction, ...] = ()


@dataclass(frozen=True)
class ConflictObjectSpec:
    """A kind of remote object a connector records conflicts on (in the ``ConflictBook``) and can roll back.

    ``GET /conflicts/pending`` names a conflict's remote side with these labels (``<id_field>``,
    ``<remote_label>Value``, ``<remote_label>Timestamp``), ``POST /conflicts/resolve`` takes
    ``remote_resolution`` (or the generic ``USE_REMOTE_VALUE``) for the remote side's value, and with
    ``rollback`` ``POST /rollback`` takes ``{"<id_field>", "targetTimestamp", "connector"}`` for it. The routes
    only queue the work: the connector handles ``<connector>.resolve_conflict`` and ``<connector>.rollback``
    (``cosync_worker.conflicts.resolve_event_type`` / ``rollback_event_type``), where its clients, budget and
    locks are. ``system``/``object_type`` are the remote object's ``ObjectRef`` (its audit key is
    ``<system>:<object_type>:<id>``)."""

    connector: str
    system: str
    object_type: str
    id_field: str = "remoteId"
    remote_label: str = "remote"
    remote_resolution: str = "USE_REMOTE_VALUE"
    id_pattern: str = r"^[A-Za-z0-9_-]+$"
    rollback: bool = True
    description: str = ""

    def audit_key(self, remote_id: str) -> str:
        return f"{self.system}:{self.object_type}:{remote_id}"


@dataclass(frozen=True)
class EventSourceSpec:
    """Events a remote service publishes through EventBridge (the rule puts them on the queue as they are).

    The core reads the envelope (``source``, ``detail-type``, ``id``, ``time``, ``detail``); this says what the
    detail means. ``objects`` maps a ``detail-type`` prefix to the object it concerns and the detail keys whose
    ``identifier``/``id`` names it (the longest prefix wins). An event becomes type
    ``<system>.<detail-type, slugged>`` about ``ObjectRef(system, object type, id)``, ordered by
    ``<system>[:<scope>]:<object type>:<id>`` where the scope is ``detail[scope_key]`` (default
    ``scope_default``). ``detail_types`` are the documented ones: their event types are metric labels.
    ``label`` names the service in errors."""

    source: str
    system: str
    objects: Mapping[str, tuple[str, tuple[str, ...]]]
    detail_types: tuple[str, ...] = ()
    scope_key: str | None = None
    scope_default: str = ""
    label: str = ""
