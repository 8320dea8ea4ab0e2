"""The ``microsoft`` connector (entry point ``cosync.connectors: microsoft``): which event runs which flow.

Built on the connector SDK: the framework opens and closes the Referrals client, keeps the poll's cursor
(``microsoft:poll``, re-read ``poll_overlap_seconds`` before it for clock skew) and leaves the connector idle
while its section names no credentials. The flows are in :mod:`cosync_microsoft.sync`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cosync_worker.connector import Event, Run, client, every, on
from cosync_worker.hooks import Context, LinkerSpec, hookimpl
from cosync_worker.store import Store

from . import declarations
from .auth import build_token_provider
from .client import ReferralsClient
from .config import MicrosoftConfig
from .linking import microsoft_linker
from .properties import MICROSOFT_PROPERTIES
from .sync import CURSOR, POLL, ReferralSync

__all__ = ["NAME", "POLL", "MicrosoftConnector", "build_referrals_client", "sandbox_section"]

NAME = "microsoft"


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


class MicrosoftConnector(ReferralSync):
    name = NAME
    config_model = MicrosoftConfig
    description = "HubSpot #Microsoft deals ↔ Microsoft Partner Center referrals."
    properties = tuple(MICROSOFT_PROPERTIES)

    # What the connector brings besides its handlers (notice kinds, emulator, demo).
    cosync_notice_kinds = staticmethod(declarations.cosync_notice_kinds)
    cosync_emulators = staticmethod(declarations.cosync_emulators)
    cosync_demo = staticmethod(declarations.cosync_demo)

    @client
    def referrals_client(self) -> ReferralsClient:
        return build_referrals_client(self.settings, self.store)

    @on("deal.creation")
    async def on_created(self, event: Event) -> None:
        await self.deal_created(event.object.id)

    @on("deal.propertyChange")
    async def on_changed(self, event: Event) -> None:
        prop = event.payload.get("propertyName")
        await self.deal_changed(event.object.id, prop if isinstance(prop, str) else None)

    @every(
        POLL,
        900,
        cursor=CURSOR,
        jitter_seconds=30,
        lookback_seconds=lambda c: c.settings.poll_overlap_seconds,
        description="Syncs New and Active Partner Center referrals changed since the last poll",
    )
    async def poll_tick(self, run: Run) -> datetime:
        return await self.poll_referrals(run)

    @hookimpl
    def cosync_linkers(self, context: Context) -> list[LinkerSpec]:
        # Through the running instance: its opened Referrals client, leases and state (docs/first-day.md).
        return [microsoft_linker(self)] if self.configured() else []

    def sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        microsoft = sandbox.get("microsoft")
        if not isinstance(microsoft, dict) or not {"base_url", "token_url", "client_id"} <= microsoft.keys():
            return None
        return sandbox_section(microsoft)


cosync_plugin = MicrosoftConnector
