"""Hook implementations of the ``gcp`` connector (entry point ``cosync.connectors: gcp``).

At start-up it opens one :class:`CloudCrmPartnersClient` and one :class:`GcpSync` and registers the sync
as ``context.services["gcp"]``. Google-side changes reach the rep through ``context.services["notify"]``
(a note written by the sync itself only when no notifier is registered). It uses ``context.services["hubspot"]`` when the runtime provides one and
otherwise builds its own with :func:`build_hubspot_client`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cosync_worker.config import ConfigError, Settings
from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, PropertySpec, ScheduleSpec, hookimpl
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store import Store

from .client import CloudCrmPartnersClient
from .config import GcpConfig
from .declarations import cosync_demo, cosync_emulators, cosync_notice_kinds  # noqa: F401 (hooks)
from .locator import LeadLinkLocator, OpportunityLocator, SandboxLocator
from .properties import GCP_PROPERTIES
from .sandbox import sandbox_section
from .sync import GcpSync

__all__ = [
    "NAME",
    "REFRESH",
    "build_hubspot_client",
    "cosync_connector",
    "cosync_handle_event",
    "cosync_hubspot_properties",
    "cosync_sandbox_config",
    "cosync_shutdown",
    "cosync_startup",
    "load_key_info",
]

NAME = "gcp"
REFRESH = "gcp_refresh"
_OWNED = "gcp:owned"  # services this connector opened and must close


async def load_key_info(config: GcpConfig) -> dict[str, Any]:
    """The service-account key as a dict; errors name the setting, never the key's content."""
    if config.service_account_json is not None:
        where, text = "connectors.gcp.service_account_json", config.service_account_json.get()
    else:
        assert config.service_account_file is not None
        where = "connectors.gcp.service_account_file"
        try:
            text = await asyncio.to_thread(Path(config.service_account_file).read_text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                [f"{where}: cannot read {config.service_account_file} ({exc.strerror})"]
            ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError([f"{where}: is not valid JSON"]) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError([f"{where}: is not a service-account key (type must be service_account)"])
    missing = [k for k in ("private_key", "client_email") if not info.get(k)]
    if missing:
        raise ConfigError([f"{where}: the key has no {', '.join(missing)}"])
    return info


def build_hubspot_client(settings: Settings, store: Store) -> HubSpotClient:
    """A HubSpot client from ``settings.hubspot`` (secrets already resolved); the runtime may share it."""
    token = settings.hubspot.access_token
    if token is None:
        raise ConfigError(["hubspot.access_token: required by the gcp connector"])
    return HubSpotClient(
        settings.hubspot.base_url,
        token.get(),
        store=store,
        requests_per_10s=settings.hubspot.requests_per_10s,
        search_per_second=settings.hubspot.search_per_second,
    )


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name=NAME,
        event_types=("deal.creation", "deal.propertyChange"),
        config_model=GcpConfig,
        schedules=(
            ScheduleSpec(
                REFRESH,
                interval_seconds=900,
                jitter_seconds=30,
                description="Re-reads the Google opportunities cosync knows and links new ones",
            ),
        ),
        description="HubSpot #GCP deals ↔ Google Cloud CRM Partners leads and opportunities.",
    )


@hookimpl
async def cosync_startup(context: Context) -> None:
    config: GcpConfig = context.config(NAME)
    if not config.configured:
        return
    info = await load_key_info(config)
    google = CloudCrmPartnersClient(
        config.base_url,
        str(config.partner_id),
        info,
        token_url=config.token_url,
        timeout_seconds=config.request_timeout_seconds,
        max_retries=config.max_retries,
        backoff_base=config.backoff_base_seconds,
        store=context.store,
        requests_per_minute=config.requests_per_minute,
    )
    await google.open()
    owned: list[Any] = [google]
    hubspot = context.services.get("hubspot")
    if hubspot is None:
        hubspot = build_hubspot_client(context.settings, context.store)
        await hubspot.open()
        owned.append(hubspot)
    locator: OpportunityLocator
    if config.link_lookup == "sandbox":
        assert google._session is not None
        locator = SandboxLocator(config.sandbox_operator_url or config.base_url, google._session)
    else:
        locator = LeadLinkLocator(google)
    context.services[NAME] = GcpSync(
        hubspot, google, context.store, config, locator, notifier=context.services.get("notify")
    )
    context.services[_OWNED] = owned


@hookimpl
async def cosync_shutdown(context: Context) -> None:
    for client in reversed(context.services.pop(_OWNED, [])):
        await client.close()
    context.services.pop(NAME, None)


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    sync: GcpSync | None = context.services.get(NAME)
    if sync is None:
        return  # installed but not configured
    if event.type == f"schedule.{REFRESH}":
        await sync.refresh()
    elif event.type == "deal.creation":
        await sync.deal_created(event.object.id)
    elif event.type == "deal.propertyChange":
        prop = event.payload.get("propertyName")
        await sync.deal_changed(
            event.object.id, prop if isinstance(prop, str) else None, event.payload.get("propertyValue")
        )


@hookimpl
def cosync_hubspot_properties() -> list[PropertySpec]:
    return list(GCP_PROPERTIES)


@hookimpl
def cosync_sandbox_config(sandbox: dict[str, Any]) -> dict[str, Any] | None:
    google = sandbox.get("google")
    if not isinstance(google, dict) or "base_url" not in google or "token_url" not in google:
        return None
    return {NAME: sandbox_section(google)}
