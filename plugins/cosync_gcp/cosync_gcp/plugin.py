"""The ``gcp`` connector (entry point ``cosync.connectors: gcp``): which event runs which flow.

Built on the connector SDK: the framework opens and closes the Cloud CRM Partners client and leaves the
connector idle while its section names no ``partner_id``. Google-side changes reach the rep through the
runtime's notification service. The flows are in :mod:`cosync_gcp.sync`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cosync_worker.config import ConfigError
from cosync_worker.connector import Event, Run, client, every, on
from cosync_worker.hooks import Context, LinkerSpec, hookimpl

from . import declarations
from .client import CloudCrmPartnersClient
from .config import GcpConfig
from .linking import gcp_linker
from .properties import GCP_PROPERTIES
from .sandbox import sandbox_section
from .sync import REFRESH, LeadSync

__all__ = ["NAME", "REFRESH", "GcpConnector", "load_key_info"]

NAME = "gcp"


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


class GcpConnector(LeadSync):
    name = NAME
    config_model = GcpConfig
    description = "HubSpot #GCP deals ↔ Google Cloud CRM Partners leads and opportunities."
    properties = tuple(GCP_PROPERTIES)

    # What the connector brings besides its handlers (notice kinds, emulator, demo).
    cosync_notice_kinds = staticmethod(declarations.cosync_notice_kinds)
    cosync_emulators = staticmethod(declarations.cosync_emulators)
    cosync_demo = staticmethod(declarations.cosync_demo)

    @client
    async def google_client(self) -> CloudCrmPartnersClient:
        config = self.settings
        return CloudCrmPartnersClient(
            config.base_url,
            str(config.partner_id),
            await load_key_info(config),
            token_url=config.token_url,
            timeout_seconds=config.request_timeout_seconds,
            max_retries=config.max_retries,
            backoff_base=config.backoff_base_seconds,
            store=self.store,
            requests_per_minute=config.requests_per_minute,
        )

    @on("deal.creation")
    async def on_created(self, event: Event) -> None:
        await self.deal_created(event.object.id)

    @on("deal.propertyChange")
    async def on_changed(self, event: Event) -> None:
        prop = event.payload.get("propertyName")
        await self.deal_changed(
            event.object.id, prop if isinstance(prop, str) else None, event.payload.get("propertyValue")
        )

    @every(
        REFRESH,
        900,
        jitter_seconds=30,
        description="Re-reads the Google opportunities cosync knows and links new ones",
    )
    async def refresh_tick(self, run: Run) -> None:
        await self.refresh()

    @hookimpl
    def cosync_linkers(self, context: Context) -> list[LinkerSpec]:
        # Through the running instance: its opened Google client, leases and state (docs/first-day.md).
        return [gcp_linker(self)] if self.configured() else []

    def sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        google = sandbox.get("google")
        if not isinstance(google, dict) or "base_url" not in google or "token_url" not in google:
            return None
        return sandbox_section(google)


cosync_plugin = GcpConnector
