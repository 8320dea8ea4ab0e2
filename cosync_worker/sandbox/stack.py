"""The HubSpot emulator and every emulator the plugins register, together on loopback, and the config that points
cosync at them.

Used by ``cosync sandbox`` (emulators alone, for a person or a third-party test), ``cosync demo`` and tests.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..hooks.types import EmulatorSpec
from .base import Emulator

__all__ = ["SandboxStack", "eventbridge_sink", "free_port", "registered_emulators"]

HUBSPOT = "hubspot"  # the core's own system: its emulator always runs

HUBSPOT_SUBSCRIPTIONS = (
    "deal.creation",
    "deal.propertyChange",
    "deal.deletion",
    "deal.associationChange",
    "contact.creation",
    "contact.propertyChange",
    "company.creation",
    "company.propertyChange",
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def registered_emulators(plugins: Any) -> list[EmulatorSpec]:
    """Every ``cosync_emulators`` answer of ``plugins``, once per name; raises ``ValueError`` when two plugins
    register different emulators under one name (or one under HubSpot's, which the core always starts)."""
    found: dict[str, EmulatorSpec] = {}
    for specs in plugins.hook.cosync_emulators():
        for spec in specs or []:
            if spec.name == HUBSPOT or (spec.name in found and found[spec.name] != spec):
                raise ValueError(f"emulator {spec.name!r} is registered twice, differently")
            found[spec.name] = spec
    return list(found.values())


@dataclass
class SandboxStack:
    """Starts the HubSpot emulator and every emulator the plugins register (``cosync_emulators``);
    ``time_scale`` speeds up emulated quotas so a demo or test can hit them in seconds.

    ``plugins`` is a loaded ``PluginManager``; without one the installed plugins (entry points) are loaded.
    Each emulator is ``stack.emulators[name]``, also readable as ``stack.<name>``."""

    host: str = "127.0.0.1"
    relay_port: int = 0
    time_scale: float = 1.0
    emulators: dict[str, Emulator] = field(default_factory=dict)
    relay_url: str = ""
    plugins: Any = None
    specs: list[EmulatorSpec] = field(default_factory=list)

    async def start(self) -> dict[str, Any]:
        from .hubspot import HubSpotEmulator

        if self.plugins is None:
            from ..hooks import PluginManager

            self.plugins = PluginManager().load(None)
        self.specs = registered_emulators(self.plugins)
        self.emulators = {HUBSPOT: HubSpotEmulator(host=self.host)}
        self.emulators.update({s.name: s.factory(self.host, self.time_scale) for s in self.specs})
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

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not attributes: a plugin's emulator by the name it registered.
        emulators = self.__dict__.get("emulators") or {}
        if name in emulators:
            return emulators[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or started emulator {name!r}")

    @property
    def hubspot(self) -> Any:
        return self.emulators[HUBSPOT]

    def connect_queue(self, queue: Any) -> None:
        """Feed what each emulator publishes (e.g. events for an event bus) onto ``queue``, as production does."""
        for spec in self.specs:
            if spec.connect_queue is not None:
                spec.connect_queue(self.emulators[spec.name], queue)

    def connection_info(self) -> dict[str, Any]:
        """The one JSON line ``cosync sandbox`` prints (the keys are a documented interface)."""
        hs = self.hubspot
        info: dict[str, Any] = {
            HUBSPOT: {
                "base_url": hs.base_url,
                "access_token": hs.access_token,
                "client_secret": hs.client_secret,
            }
        }
        info.update({s.name: s.connection(self.emulators[s.name]) for s in self.specs})
        info["relay"] = {"url": self.relay_url}
        return info

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
    """What an EventBridge rule does in production: put each event an emulator publishes on the queue, grouped
    by the object it concerns and deduplicated by the event id."""
    import json

    from ..events import parse_eventbridge_event

    async def sink(event: dict[str, Any]) -> None:
        parsed = parse_eventbridge_event(event)
        await queue.send([(json.dumps(event), parsed.ordering_key, parsed.dedupe_key)])

    return sink
