"""The plugin contract: pluggy hookspecs, the declarations hooks return, and the manager that finds plugins."""

from .context import Context
from .linking import LinkerSpec, Party, RemoteRecord, WriteQuota
from .manager import ENTRY_POINT_GROUP, Connector, PluginManager, maybe_await
from .specs import hookimpl, hookspec
from .types import (
    BODY_KEY,
    QUERY_KEY,
    ConflictObjectSpec,
    ConnectorSpec,
    DemoAction,
    DemoCloudSpec,
    DemoDeal,
    EmulatorSpec,
    EventSourceSpec,
    NoticeKindSpec,
    NotificationChannelSpec,
    PropertySpec,
    RouteSpec,
    ScheduleSpec,
    request_body,
    request_query,
)

__all__ = [
    "BODY_KEY",
    "ENTRY_POINT_GROUP",
    "QUERY_KEY",
    "ConflictObjectSpec",
    "Connector",
    "ConnectorSpec",
    "Context",
    "DemoAction",
    "DemoCloudSpec",
    "DemoDeal",
    "EmulatorSpec",
    "EventSourceSpec",
    "LinkerSpec",
    "NoticeKindSpec",
    "NotificationChannelSpec",
    "Party",
    "PluginManager",
    "PropertySpec",
    "RemoteRecord",
    "RouteSpec",
    "ScheduleSpec",
    "WriteQuota",
    "hookimpl",
    "hookspec",
    "maybe_await",
    "request_body",
    "request_query",
]
