"""Hook implementations of the ``microsoft`` connector (entry point ``cosync.connectors: microsoft``).

At start-up it opens one :class:`ReferralsClient` and one :class:`MicrosoftSync` and registers the sync as
``context.services["microsoft"]``, handing it ``context.services["notify"]`` so incoming and changed
referrals reach the deal owner. It uses ``context.services["hubspot"]`` when the runtime provides one
and otherwise builds its own with :func:`build_hubspot_client`.
"""

from __future__ import annotations

from typing import Any

from cosync_worker.config import ConfigError, Settings
from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, PropertySpec, ScheduleSpec, hookimpl
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store import Store

from .auth import build_token_provider
from .client import ReferralsClient
from .config import MicrosoftConfig
from .declarations import cosync_demo, cosync_emulators, cosync_notice_kinds  # noqa: F401 (hooks)
from .properties import MICROSOFT_PROPERTIES
from .sync import MicrosoftSync

__all__ = [
    "NAME",
    "POLL",
    "build_hubspot_client",
    "build_referrals_client",
    "cosync_connector",
    "cosync_handle_event",
    "cosync_hubspot_properties",
    "cosync_sandbox_config",
    "cosync_shutdown",
    "cosync_startup",
    "sandbox_section",
]

NAME = "microsoft"
POLL = "microsoft_poll"
_OWNED = "microsoft:owned"  # clients this connector opened and must close


def build_hubspot_client(settings: Settings, store: Store) -> HubSpotClient:
    """A HubSpot client from ``settings.hubspot`` (secrets already resolved); the runtime may share it."""
    token = settings.hubspot.access_token
    if token is None:
        raise ConfigError(["hubspot.access_token: required by the microsoft connector"])
    return HubSpotClient(
        settings.hubspot.base_url,
        token.get(),
        store=store,
        requests_per_10s=settings.hubspot.requests_per_10s,
        search_per_second=settings.hubspot.search_per_second,
    )


def build_referrals_client(config: MicrosoftConfig, store: Store | None = None) -> ReferralsClient:
    """The Referrals client ``config`` describes (not yet opened); secrets must be resolved. With ``store``
    its request budget is shared by every process using that store."""
    return ReferralsClient(
        config.base_url,
        build_token_provider(config),
        timeout_seconds=config.request_timeout_seconds,
        max_retries=config.max_retries,
        backoff_base=config.backoff_base_seconds,
        max_inline_wait=config.max_inline_wait_seconds,
        store=store,
        requests_per_minute=config.requests_per_minute,
    )


def sandbox_section(microsoft: dict[str, Any]) -> dict[str, Any]:
    """``connectors.microsoft`` for the emulator described by ``sandbox["microsoft"]``."""
    token_url = str(microsoft["token_url"])
    # token_url is <base>/<tenant>/oauth2/v2.0/token; the authority is <base>/<tenant>.
    authority = token_url.split("/oauth2/")[0]
    return {
        "base_url": microsoft["base_url"],
        "tenant_id": microsoft.get("tenant_id") or authority.rsplit("/", 1)[-1],
        "authority": authority,
        "client_id": microsoft["client_id"],
        "client_secret": microsoft["client_secret"],
        "refresh_token": microsoft.get("refresh_token", "sandbox-ms-refresh"),
    }


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name=NAME,
        event_types=("deal.creation", "deal.propertyChange"),
        config_model=MicrosoftConfig,
        schedules=(
            ScheduleSpec(
                POLL,
                interval_seconds=900,
                jitter_seconds=30,
                description="Syncs New and Active Partner Center referrals changed since the last poll",
            ),
        ),
        description="HubSpot #Microsoft deals ↔ Microsoft Partner Center referrals.",
    )


@hookimpl
async def cosync_startup(context: Context) -> None:
    config: MicrosoftConfig = context.config(NAME)
    if not config.configured:
        return
    client = build_referrals_client(config, context.store)
    await client.open()
    owned: list[Any] = [client]
    hubspot = context.services.get("hubspot")
    if hubspot is None:
        hubspot = build_hubspot_client(context.settings, context.store)
        await hubspot.open()
        owned.append(hubspot)
    context.services[NAME] = MicrosoftSync(
        hubspot, client, context.store, config, notifier=context.services.get("notify")
    )
    context.services[_OWNED] = owned


@hookimpl
async def cosync_shutdown(context: Context) -> None:
    for client in reversed(context.services.pop(_OWNED, [])):
        await client.close()
    context.services.pop(NAME, None)


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    sync: MicrosoftSync | None = context.services.get(NAME)
    if sync is None:
        return  # installed but not configured
    if event.type == f"schedule.{POLL}":
        await sync.poll()
    elif event.type == "deal.creation":
        await sync.deal_created(event.object.id)
    elif event.type == "deal.propertyChange":
        prop = event.payload.get("propertyName")
        await sync.deal_changed(event.object.id, prop if isinstance(prop, str) else None)


@hookimpl
def cosync_hubspot_properties() -> list[PropertySpec]:
    return list(MICROSOFT_PROPERTIES)


@hookimpl
def cosync_sandbox_config(sandbox: dict[str, Any]) -> dict[str, Any] | None:
    microsoft = sandbox.get("microsoft")
    if not isinstance(microsoft, dict) or not {"base_url", "token_url", "client_id"} <= microsoft.keys():
        return None
    return {NAME: sandbox_section(microsoft)}
