"""The conformance suite every connector runs, and a whole running stack for plugin authors.

Modelled on the Singer SDK's ``get_tap_test_class``: a connector's test module builds the suite's test class
from its connector and a *world-builder* (what the suite needs to know about the connector's remote system)::

    from cosync_worker.testing.conformance import conformance_suite

    TestConformance = conformance_suite(MyConnector, "my_package.plugin", my_world)

``my_world(hubspot_emulator)`` is an async context manager yielding a :class:`World`: the started emulator of
the connector's cloud (or None), how many writes it has taken, and an action that makes the connector write
(the rep creating a tagged deal, say). The suite then checks, through a running stack (relay, queue, worker)
against the HubSpot emulator, that

* a redelivered event makes no further remote writes (nor HubSpot writes);
* cosync's own writes do not echo back (the webhooks they cause write nothing anywhere);
* an installed but unconfigured connector stays idle (no client opened, events acknowledged untouched);
* shutdown closes every client the connector declared;
* the sandbox config it writes (``cosync_sandbox_config`` fed by its ``cosync_emulators``) starts;
* its HubSpot properties are created idempotently.

:func:`running_stack` (and the ``cosync_stack`` fixture) start the whole stack for any test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
import pytest

from ..config import Settings
from ..connector import Connector, Event
from ..connector.declarations import ClientDecl
from ..events import parse_hubspot_event
from ..hubspot import HubSpotClient
from ..runtime import Runtime
from ..sandbox.hubspot import HubSpotEmulator

__all__ = [
    "NO_IDLE",
    "Stack",
    "StackStarter",
    "World",
    "conformance_suite",
    "connector_of",
    "cosync_stack",
    "hubspot_writes",
    "redelivery",
    "running_stack",
    "stack_settings",
]

C = TypeVar("C", bound=Connector)
NO_IDLE: dict[str, Any] = {}
"""``conformance_suite(..., unconfigured=NO_IDLE)``: the connector has no installed-but-idle state."""
_WEBHOOK_TYPES = ("deal.creation", "deal.propertyChange")


def connector_of(runtime: Runtime, kind: type[C]) -> C:
    """The running instance of the connector class ``kind`` (what the plugin manager registered)."""
    for found in runtime.plugins.connectors():
        if isinstance(found.plugin, kind):
            return found.plugin
    raise LookupError(f"{kind.__name__} is not registered in this runtime")


def hubspot_writes(hubspot: HubSpotEmulator) -> int:
    """Requests that changed something in the HubSpot emulator (searches and batch reads excluded)."""
    reads = ("/search", "/batch/read")
    return sum(
        n
        for call, n in hubspot.calls.items()
        if call.startswith(("POST", "PATCH", "PUT", "DELETE")) and not call.endswith(reads)
    )


def redelivery(event_type: str, object_id: str, **payload: Any) -> Event:
    """A HubSpot webhook event sent again under a new eventId: the dispatcher's dedupe cannot catch it."""
    body = {"eventId": uuid.uuid4().int % 10**12, "subscriptionType": event_type, "objectId": int(object_id)}
    return parse_hubspot_event(body | payload)


def stack_settings(
    tmp: Path,
    hubspot: HubSpotEmulator,
    plugin_modules: Sequence[str],
    connectors: dict[str, Any],
    *,
    create_properties: bool = False,
    **overrides: Any,
) -> Settings:
    """Settings of a one-machine stack (SQLite queue and store in ``tmp``) on the HubSpot emulator, loading only
    ``plugin_modules``; ``overrides`` replace whole top-level sections."""
    data: dict[str, Any] = {
        "queue": {"kind": "local", "path": str(tmp / "queue.db"), "visibility_timeout": 5},
        "store": {"kind": "sqlite", "path": str(tmp / "state.db")},
        "worker": {
            "concurrency": 8,
            "wait_seconds": 0.2,
            "drain_seconds": 5,
            "retry": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2},
        },
        "relay": {"enabled": True, "port": 0, "api_tokens": ["test-api-token"]},
        "hubspot": {
            "base_url": hubspot.base_url,
            "access_token": hubspot.access_token,
            "client_secret": hubspot.client_secret,
            "requests_per_10s": 1000,
            "search_per_second": 100,
            "create_properties": create_properties,
        },
        "plugin_modules": list(plugin_modules),
        "connectors": connectors,
    }
    return Settings.model_validate(data | overrides)


@dataclass
class Stack:
    """A running cosync: the runtime, its relay's URL, and the HubSpot emulator its webhooks come from."""

    rt: Runtime
    url: str
    hubspot: HubSpotEmulator

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until HubSpot has sent every webhook and the queue holds nothing (a bound, not a timing)."""
        await self.hubspot.drain_webhooks()
        deadline = time.monotonic() + timeout
        idle = 0
        while time.monotonic() < deadline:
            # Twice in a row: a receive under way holds what it claims invisible before the worker counts it.
            busy = await self.rt.context.queue.depth() > 0 or not self.rt.worker.idle()
            idle = 0 if busy else idle + 1
            if idle >= 2:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the queue did not drain within {timeout}s")


@asynccontextmanager
async def running_stack(
    cfg: Settings, hubspot: HubSpotEmulator, *, scheduler: bool = False, require_properties: bool = False
) -> AsyncIterator[Stack]:
    """Relay, queue and worker running on ``cfg``, HubSpot's deal webhooks pointed at the relay. With
    ``require_properties`` it starts as ``cosync run`` does: not before HubSpot has the configured connectors'
    properties (created first when ``hubspot.create_properties`` is set)."""
    async with Runtime(cfg, entry_points=False, require_properties=require_properties) as rt:
        url = await rt.start_relay()
        assert url is not None, "stack_settings enables the relay"
        hubspot.webhooks.subscriptions.clear()  # a restart subscribes its own relay
        hubspot.subscribe(f"{url}/webhooks/hubspot", list(_WEBHOOK_TYPES))
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=scheduler))
        try:
            yield Stack(rt, url, hubspot)
        finally:
            await hubspot.drain_webhooks()
            hubspot.webhooks.subscriptions.clear()
            rt.stop()
            await asyncio.wait_for(task, 20)


StackStarter = Callable[..., AbstractAsyncContextManager[Stack]]


@pytest.fixture
def cosync_stack(tmp_path: Path, hubspot_emulator: HubSpotEmulator) -> StackStarter:
    """``async with cosync_stack(["my_pkg.plugin"], {"mine": {...}}) as stack``: a whole running stack (relay,
    queue, worker) on the ``hubspot_emulator``, loading only those modules, started as ``cosync run`` with
    ``hubspot.create_properties: true`` starts: the configured connectors' HubSpot properties are created."""

    def start(
        plugin_modules: Sequence[str], connectors: dict[str, Any], **overrides: Any
    ) -> AbstractAsyncContextManager[Stack]:
        cfg = stack_settings(
            tmp_path, hubspot_emulator, plugin_modules, connectors, create_properties=True, **overrides
        )
        return running_stack(cfg, hubspot_emulator, require_properties=True)

    return start


class World(Protocol):
    """What the suite needs to know about a connector's remote system."""

    emulator: Any
    """The started emulator the connector's ``cosync_emulators`` registers (None: the connector has none)."""

    def remote_writes(self) -> int:
        """Writes the remote system has taken so far."""
        ...

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        """Make the connector write (as the rep or the cloud would), wait until it has (only when
        ``configured``: an idle connector writes nothing), and return the events whose redelivery must change
        nothing."""
        ...


WorldBuilder = Callable[[HubSpotEmulator], AbstractAsyncContextManager[World]]


def _sandbox_info(connector: Connector, world: World, hubspot: HubSpotEmulator) -> dict[str, Any]:
    info: dict[str, Any] = {
        "hubspot": {
            "base_url": hubspot.base_url,
            "access_token": hubspot.access_token,
            "client_secret": hubspot.client_secret,
        }
    }
    emulators = getattr(connector, "cosync_emulators", None)
    if world.emulator is not None and emulators is not None:
        for spec in emulators():
            info[spec.name] = spec.connection(world.emulator)
    return info


def _sessions(client: Any) -> list[aiohttp.ClientSession]:
    return [v for v in vars(client).values() if isinstance(v, aiohttp.ClientSession)]


def conformance_suite(
    connector: type[Connector],
    plugin_module: str,
    world: WorldBuilder,
    *,
    unconfigured: dict[str, Any] | None = None,
) -> type:
    """The conformance test class for ``connector`` (registered from ``plugin_module``); assign it to a
    ``Test...`` name in a test module. It uses the ``tmp_path`` and ``hubspot_emulator`` fixtures.

    ``unconfigured`` is the section that leaves the connector installed but idle (default: an empty one); a
    connector with no idle state (every section, even an empty one, works) passes ``unconfigured=NO_IDLE``."""
    name = connector.name
    idle_section = {} if unconfigured is None else unconfigured

    def settings(tmp: Path, hs: HubSpotEmulator, section: dict[str, Any] | None) -> Settings:
        return stack_settings(tmp, hs, [plugin_module], {} if section is None else {name: section})

    def sandbox_section(w: World, hs: HubSpotEmulator) -> dict[str, Any] | None:
        probe = connector()
        found = probe.cosync_sandbox_config(_sandbox_info(probe, w, hs))
        return None if found is None else dict(found[name])

    async def properties_created(hs: HubSpotEmulator) -> None:
        async with HubSpotClient(hs.base_url, hs.access_token) as admin:
            await admin.ensure_properties(list(connector.properties))

    class ConnectorConformance:
        async def test_a_redelivered_event_makes_no_further_writes(
            self, tmp_path: Path, hubspot_emulator: HubSpotEmulator
        ) -> None:
            await properties_created(hubspot_emulator)
            async with world(hubspot_emulator) as w:
                cfg = settings(tmp_path, hubspot_emulator, sandbox_section(w, hubspot_emulator))
                async with running_stack(cfg, hubspot_emulator) as stack:
                    events = await w.act(stack)
                    await stack.settle()
                    mine = connector_of(stack.rt, connector)
                    before = (w.remote_writes(), hubspot_writes(hubspot_emulator))
                    for event in events:
                        again = redelivery(event.type, event.object.id, **_webhook_fields(event))
                        await mine.cosync_handle_event(again, stack.rt.context)
                    await stack.settle()
                    assert (w.remote_writes(), hubspot_writes(hubspot_emulator)) == before

        async def test_cosyncs_own_writes_do_not_echo_back(
            self, tmp_path: Path, hubspot_emulator: HubSpotEmulator
        ) -> None:
            await properties_created(hubspot_emulator)
            async with world(hubspot_emulator) as w:
                cfg = settings(tmp_path, hubspot_emulator, sandbox_section(w, hubspot_emulator))
                async with running_stack(cfg, hubspot_emulator) as stack:
                    events = await w.act(stack)
                    await stack.settle()
                    mine = connector_of(stack.rt, connector)
                    before = (w.remote_writes(), hubspot_writes(hubspot_emulator))
                    owned = {p.name for p in connector.properties if p.object_type == "deals"}
                    for deal_id in {e.object.id for e in events if e.object.type == "deal"}:
                        props = hubspot_emulator.objects("deals")[deal_id]["properties"]
                        for prop in sorted(owned & props.keys()):
                            echo = redelivery(
                                "deal.propertyChange",
                                deal_id,
                                propertyName=prop,
                                propertyValue=props[prop],
                            )
                            await mine.cosync_handle_event(echo, stack.rt.context)
                    await stack.settle()
                    assert (w.remote_writes(), hubspot_writes(hubspot_emulator)) == before

        async def test_installed_but_unconfigured_stays_idle(
            self, tmp_path: Path, hubspot_emulator: HubSpotEmulator
        ) -> None:
            await properties_created(hubspot_emulator)
            async with world(hubspot_emulator) as w:
                if idle_section is NO_IDLE:
                    pytest.skip(f"{name}: every section, even an empty one, is a working configuration")
                cfg = settings(tmp_path, hubspot_emulator, idle_section)
                async with running_stack(cfg, hubspot_emulator) as stack:
                    mine = connector_of(stack.rt, connector)
                    assert not mine.configured() and mine.clients == {}
                    events = await w.act(stack, configured=False)
                    await stack.settle()
                    writes = hubspot_writes(hubspot_emulator)  # the rep's own, from act
                    for event in events:
                        await mine.cosync_handle_event(event, stack.rt.context)
                    for loop in mine.spec().schedules:
                        await mine.tick(loop.name)
                    await stack.settle()
                    assert w.remote_writes() == 0 and mine.clients == {}
                    assert hubspot_writes(hubspot_emulator) == writes

        async def test_shutdown_closes_every_client(
            self, tmp_path: Path, hubspot_emulator: HubSpotEmulator
        ) -> None:
            async with world(hubspot_emulator) as w:
                cfg = settings(tmp_path, hubspot_emulator, sandbox_section(w, hubspot_emulator))
                async with running_stack(cfg, hubspot_emulator) as stack:
                    mine = connector_of(stack.rt, connector)
                    opened = list(mine.clients.values())
                    sessions = [s for c in opened for s in _sessions(c)]
                    assert all(not s.closed for s in sessions)
                assert mine.clients == {}
                assert all(s.closed for s in sessions)
                for client in opened:
                    # RemoteClient drops its session on close; anything else must not keep an open one.
                    assert all(s.closed for s in _sessions(client))

        async def test_the_sandbox_config_it_writes_starts(
            self, tmp_path: Path, hubspot_emulator: HubSpotEmulator
        ) -> None:
            async with world(hubspot_emulator) as w:
                section = sandbox_section(w, hubspot_emulator)
                if w.emulator is not None:
                    assert section is not None, f"{name}: no sandbox section for its own emulator"
                async with running_stack(
                    settings(tmp_path, hubspot_emulator, section), hubspot_emulator
                ) as s:
                    mine = connector_of(s.rt, connector)
                    assert mine.configured()
                    declared = [d for _, d in mine._declared if isinstance(d, ClientDecl)]
                    assert len(mine.clients) == len(declared)

        async def test_its_properties_are_created_idempotently(
            self, hubspot_emulator: HubSpotEmulator
        ) -> None:
            specs = list(connector.properties)
            async with HubSpotClient(hubspot_emulator.base_url, hubspot_emulator.access_token) as admin:
                first, _ = await admin.ensure_properties(specs)
                second, _ = await admin.ensure_properties(specs)
                assert await admin.missing_properties(specs) == []
            assert len(first) == len(specs) and second == []

    ConnectorConformance.__name__ = ConnectorConformance.__qualname__ = f"Test{connector.__name__}Conformance"
    return ConnectorConformance


def _webhook_fields(event: Event) -> dict[str, Any]:
    return {k: event.payload[k] for k in ("propertyName", "propertyValue") if k in event.payload}
