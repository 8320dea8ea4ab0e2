"""All four emulators together on loopback, and the config that points cosync at them.

Used by ``cosync sandbox`` (emulators alone, for a person or a third-party test), ``cosync demo`` and tests.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .base import Emulator

__all__ = ["SandboxStack", "eventbridge_sink", "free_port"]

HUBSPOT_SUBSCRIPTIONS = (
    "deal.creation",
    "deal.propertyChange",
    "deal.deletion",
    "contact.creation",
    "contact.propertyChange",
    "company.creation",
    "company.propertyChange",
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class SandboxStack:
    """Starts the HubSpot, Partner Central, Microsoft and Google emulators; ``time_scale`` speeds up
    Partner Central's quotas so a demo or test can hit them in seconds."""

    host: str = "127.0.0.1"
    relay_port: int = 0
    time_scale: float = 1.0
    emulators: dict[str, Emulator] = field(default_factory=dict)
    relay_url: str = ""

    async def start(self) -> dict[str, Any]:
        from .google import GoogleEmulator
        from .hubspot import HubSpotEmulator
        from .microsoft import MicrosoftEmulator
        from .partnercentral import PartnerCentralEmulator

        self.emulators = {
            "hubspot": HubSpotEmulator(host=self.host),
            "partnercentral": PartnerCentralEmulator(host=self.host, time_scale=self.time_scale),
            "microsoft": MicrosoftEmulator(host=self.host),
            "google": GoogleEmulator(host=self.host),
        }
        for emulator in self.emulators.values():
            await emulator.start()
        port = self.relay_port or free_port(self.host)
        self.relay_url = f"http://{self.host}:{port}"
        self.hubspot.subscribe(f"{self.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
        return self.connection_info()

    async def stop(self) -> None:
        for emulator in reversed(list(self.emulators.values())):
            await emulator.stop()

    async def __aenter__(self) -> SandboxStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def hubspot(self) -> Any:
        return self.emulators["hubspot"]

    @property
    def partnercentral(self) -> Any:
        return self.emulators["partnercentral"]

    @property
    def microsoft(self) -> Any:
        return self.emulators["microsoft"]

    @property
    def google(self) -> Any:
        return self.emulators["google"]

    def connection_info(self) -> dict[str, Any]:
        """The one JSON line ``cosync sandbox`` prints (the keys are a documented interface)."""
        hs, pc, ms, gc = self.hubspot, self.partnercentral, self.microsoft, self.google
        return {
            "hubspot": {
                "base_url": hs.base_url,
                "access_token": hs.access_token,
                "client_secret": hs.client_secret,
            },
            "partnercentral": {
                "endpoint_url": pc.base_url,
                "region": "us-east-1",
                "aws_access_key_id": "sandbox",
                "aws_secret_access_key": "sandbox",
                "catalog": "Sandbox",
            },
            "microsoft": {
                "base_url": ms.base_url,
                "token_url": ms.token_url,
                "client_id": ms.client_id,
                "client_secret": ms.client_secret,
                "tenant_id": ms.tenant_id,
                "refresh_token": ms.refresh_token,
            },
            "google": {"base_url": gc.base_url, "token_url": gc.token_url},
            "relay": {"url": self.relay_url},
        }

    def config(self, data_dir: str | Path = ".cosync/sandbox", plugins: Any = None) -> dict[str, Any]:
        """A complete config that points every cosync client at the emulators; each connector adds its own
        section through the ``cosync_sandbox_config`` hook."""
        info = self.connection_info()
        data = Path(data_dir)
        connectors: dict[str, Any] = {}
        if plugins is not None:
            for section in plugins.hook.cosync_sandbox_config(sandbox=info):
                connectors.update(section or {})
        return {
            "queue": {"kind": "local", "path": str(data / "queue.db")},
            "store": {"kind": "sqlite", "path": str(data / "state.db")},
            "relay": {
                "host": self.host,
                "port": int(self.relay_url.rsplit(":", 1)[1]),
                "api_tokens": ["sandbox-api-token"],
            },
            "hubspot": {
                "base_url": info["hubspot"]["base_url"],
                "access_token": info["hubspot"]["access_token"],
                "client_secret": info["hubspot"]["client_secret"],
                # A fresh emulator has none of the connectors' properties; `cosync run` creates them.
                "create_properties": True,
            },
            "connectors": connectors,
        }

    def write_config(
        self, path: str | Path, data_dir: str | Path = ".cosync/sandbox", plugins: Any = None
    ) -> Path:
        p = Path(path)
        p.write_text(yaml.safe_dump(self.config(data_dir, plugins), sort_keys=False), encoding="utf-8")
        return p


def eventbridge_sink(queue: Any) -> Any:
    """What the EventBridge rule does in production: put each Partner Central event on the queue, grouped by
    the object it concerns and deduplicated by the event id."""
    import json

    from ..events import parse_eventbridge_event

    async def sink(event: dict[str, Any]) -> None:
        parsed = parse_eventbridge_event(event)
        await queue.send([(json.dumps(event), parsed.ordering_key, parsed.dedupe_key)])

    return sink
