"""The whole contract a connector sees. Every hook may return a value or an awaitable; callers await either.

Connectors are found through the ``cosync.connectors`` entry-point group (see ``docs/writing-a-connector.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ..events import Event
    from .context import Context
    from .linking import LinkerSpec
    from .types import (
        ConflictObjectSpec,
        ConnectorSpec,
        DemoCloudSpec,
        EmulatorSpec,
        EventSourceSpec,
        NoticeKindSpec,
        NotificationChannelSpec,
        PropertySpec,
        RouteSpec,
    )

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("cosync")
hookimpl = pluggy.HookimplMarker("cosync")


@hookspec
def cosync_connector() -> ConnectorSpec | None:  # type: ignore[empty-body]
    """Called once at start-up: declare the connector's name, config model, event types and schedules."""


@hookspec
def cosync_startup(context: Context) -> Any:
    """Called after configuration is validated and before the first event: open clients, warm caches."""


@hookspec
def cosync_shutdown(context: Context) -> Any:
    """Called once when the worker stops, after in-flight events finished: close clients."""


@hookspec
def cosync_handle_event(event: Event, context: Context) -> Any:
    """Called for each event whose type the connector declared; raise ``Retry`` or ``PermanentError`` to fail."""


@hookspec
def cosync_hubspot_properties() -> list[PropertySpec] | None:  # type: ignore[empty-body]
    """Called by ``cosync properties create``: the HubSpot custom properties this plugin needs."""


@hookspec
def cosync_routes(context: Context) -> list[RouteSpec] | None:  # type: ignore[empty-body]
    """Called when the relay starts: REST routes this plugin serves (bearer auth and validation are applied)."""


@hookspec
def cosync_sandbox_config(sandbox: dict[str, Any]) -> dict[str, Any] | None:  # type: ignore[empty-body]
    """Called by ``cosync sandbox --write-config``: ``{"<connector>": {...}}`` pointing it at the emulators."""


@hookspec
def cosync_notification_channels(context: Context) -> list[NotificationChannelSpec] | None:  # type: ignore[empty-body]
    """Called once when the notification service is built: the channels (HubSpot, SNS, Slack, ...) this plugin
    offers. Each spec's ``factory(context, options)`` is called only if ``notify.channels.<name>`` enables it."""


@hookspec
def cosync_notice_kinds() -> list[NoticeKindSpec] | None:  # type: ignore[empty-body]
    """Called once when the notification service is built: the notice kinds this plugin sends."""


@hookspec
def cosync_emulators() -> list[EmulatorSpec] | None:  # type: ignore[empty-body]
    """Called when a sandbox stack starts (``cosync sandbox``, ``cosync demo``): the emulators this plugin needs."""


@hookspec
def cosync_demo() -> DemoCloudSpec | None:  # type: ignore[empty-body]
    """Called by ``cosync demo``: this connector's column, deal and moves in the demo's script."""


@hookspec
def cosync_conflict_objects() -> list[ConflictObjectSpec] | None:  # type: ignore[empty-body]
    """Called when the relay collects routes: the remote objects whose conflicts ``/conflicts/pending`` lists
    and ``/conflicts/resolve`` and ``/rollback`` queue work for, with the names the API gives their fields."""


@hookspec
def cosync_event_sources() -> list[EventSourceSpec] | None:  # type: ignore[empty-body]
    """Called when the plugin is registered: the EventBridge sources whose events this plugin's connector
    handles, and what their detail-types mean (so the core's parser turns them into events)."""


@hookspec
def cosync_linkers(context: Context) -> list[LinkerSpec] | None:  # type: ignore[empty-body]
    """Called by ``cosync link`` and ``cosync backfill`` after start-up: how this connector lists, matches,
    links and creates its remote records (see ``LinkerSpec``); an unconfigured connector returns none."""
