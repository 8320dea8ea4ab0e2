"""Assembles one process from settings: queue, store, plugins, context, worker, scheduler and relay."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, cast

from . import trailing
from .config import ConfigError, QueueSettings, Settings, StoreSettings, resolve_secrets
from .hooks import Connector, Context, PluginManager, PropertySpec, maybe_await
from .logs import get_logger
from .queue import Queue
from .store import Store
from .worker import Dispatcher, Scheduler, Worker, resolve_schedules

__all__ = [
    "MissingPropertiesError",
    "Runtime",
    "declared_properties",
    "open_queue",
    "open_store",
    "required_properties",
    "validate_config",
]

log = get_logger("cosync.runtime")

# How long a graceful stop waits for trailing writes, hurried (one HubSpot call each): a bound against a
# HubSpot that does not answer, well inside the 30 s ECS gives a task between SIGTERM and SIGKILL.
TRAILING_SECONDS = 10.0


async def open_queue(settings: QueueSettings) -> Queue:
    if settings.kind == "local":
        from .queue.local import LocalQueue

        Path(settings.path).parent.mkdir(parents=True, exist_ok=True)
        local = LocalQueue(
            settings.path, visibility_timeout=settings.visibility_timeout, max_receives=settings.max_receives
        )
        await local.open()
        return local
    from .queue.sqs import SqsQueue

    if not settings.queue_url:
        raise ConfigError(["queue.queue_url: required when queue.kind is sqs"])
    sqs = SqsQueue(
        settings.queue_url,
        dlq_url=settings.dlq_url,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        visibility_timeout=settings.visibility_timeout,
        max_receives=settings.max_receives,
    )
    await sqs.open()
    return sqs


async def open_store(settings: StoreSettings) -> Store:
    if settings.kind == "sqlite":
        from .store.sqlite import SqliteStore

        Path(settings.path).parent.mkdir(parents=True, exist_ok=True)
        sqlite = SqliteStore(settings.path, audit_retention_seconds=settings.audit_retention_days * 86_400)
        await sqlite.open()
        return sqlite
    from .store.dynamodb import DynamoStore

    if not settings.table:
        raise ConfigError(["store.table: required when store.kind is dynamodb"])
    dynamo = DynamoStore(
        settings.table,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        audit_retention_seconds=settings.audit_retention_days * 86_400,
    )
    await dynamo.open()
    return dynamo


async def validate_config(
    settings: Settings, plugins: PluginManager, *, entry_points: bool = True
) -> tuple[list[Connector], dict[str, Any]]:
    """Load the plugins, validate every connector's section and resolve every secret reference: what
    ``cosync config check`` reports is exactly what ``cosync run`` refuses to start on."""
    plugins.load(settings, entry_points=entry_points)
    connectors = plugins.connectors()
    configs = plugins.validate_connector_configs(settings)
    await resolve_secrets(settings, configs)
    return connectors, configs


def declared_properties(plugins: PluginManager) -> list[PropertySpec]:
    """Every HubSpot property the loaded plugins declare (what ``cosync properties create`` creates)."""
    return [spec for specs in plugins.hook.cosync_hubspot_properties() for spec in specs or []]


def required_properties(
    plugins: PluginManager, connectors: list[Connector], configs: dict[str, Any]
) -> list[PropertySpec]:
    """The declared properties less those of connectors the config leaves idle (``configured`` false):
    a worker that syncs only AWS need not carry Google's properties."""
    idle = {
        id(c.plugin) for c in connectors if getattr(configs.get(c.spec.name), "configured", True) is False
    }
    specs: list[PropertySpec] = []
    for impl in plugins.hook.cosync_hubspot_properties.get_hookimpls():
        if id(impl.plugin) not in idle:
            declared = cast("list[PropertySpec] | None", impl.function())
            specs.extend(declared or [])
    return specs


class MissingPropertiesError(Exception):
    """HubSpot lacks custom properties the connectors write: starting would half-apply work (a remote
    creation whose id cannot be written back)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class Runtime:
    """``async with Runtime(settings) as rt: await rt.run()``. Plugins are loaded and their configs
    validated before anything connects, so a bad config refuses to start with every problem listed.

    With ``require_properties`` (``cosync run``) it also refuses to start while HubSpot lacks a property the
    configured connectors need, or creates them when ``hubspot.create_properties`` is set; either way before
    any connector starts or any event is received."""

    def __init__(
        self,
        settings: Settings,
        *,
        plugins: PluginManager | None = None,
        entry_points: bool = True,
        require_properties: bool = False,
    ) -> None:
        self.settings = settings
        self.plugins = plugins or PluginManager()
        self._entry_points = entry_points
        self._require_properties = require_properties
        self._stack = AsyncExitStack()
        self.context: Context
        self.worker: Worker
        self.scheduler: Scheduler
        self.relay_url: str | None = None
        self._relay: Any = None

    async def __aenter__(self) -> Runtime:
        try:
            return await self._enter()
        except BaseException:
            await self._stack.aclose()  # ``async with`` does not call __aexit__ when __aenter__ raises
            raise

    async def _enter(self) -> Runtime:
        connectors, configs = await validate_config(
            self.settings, self.plugins, entry_points=self._entry_points
        )
        queue = await open_queue(self.settings.queue)
        self._stack.push_async_callback(queue.close)
        store = await open_store(self.settings.store)
        self._stack.push_async_callback(store.close)
        self.context = Context(self.settings, store, queue, connector_configs=configs)
        await self._open_services()
        # Before the clients and the store close (callbacks run last pushed first): the writes settled events
        # left trailing (a push's stamp and note in their batch window) are sent now, not lost.
        self._stack.push_async_callback(self._finish_trailing)
        if self._require_properties:
            await self._check_properties(required_properties(self.plugins, connectors, configs))
        for c in connectors:
            startup = c.hook("cosync_startup")
            if startup is not None:
                await maybe_await(startup(context=self.context))
        self._stack.push_async_callback(self._shutdown_hooks)
        dispatcher = Dispatcher(connectors, self.context, self.settings.worker.processed_ttl_seconds)
        self.worker = Worker(
            queue, dispatcher, self.settings.worker, visibility_timeout=self.settings.queue.visibility_timeout
        )
        schedules = resolve_schedules([c.spec for c in connectors], self.settings.schedules)
        self.scheduler = Scheduler(queue, schedules)
        return self

    async def _open_services(self) -> None:
        """The process's one client per shared remote service; connectors reach them by name."""
        hs = self.settings.hubspot
        if hs.access_token is not None:
            from .hubspot import HubSpotClient

            client = HubSpotClient(
                hs.base_url,
                hs.access_token.get(),
                store=self.context.store,
                requests_per_10s=hs.requests_per_10s,
                search_per_second=hs.search_per_second,
            )
            await client.open()
            self._stack.push_async_callback(client.close)
            self.context.services["hubspot"] = client
        from .notify import build_notifier

        notifier = build_notifier(self.settings, self.context, plugins=self.plugins)
        self._stack.push_async_callback(notifier.close)
        self.context.services["notify"] = notifier

    async def _check_properties(self, specs: list[PropertySpec]) -> None:
        client = self.context.services.get("hubspot")
        if client is None or not specs:
            return  # without hubspot.access_token nothing can be written to HubSpot, half or whole
        if self.settings.hubspot.create_properties:
            created, _ = await client.ensure_properties(specs)
            if created:
                log.info("hubspot_properties_created", count=len(created))
            return
        missing = await client.missing_properties(specs)
        if missing:
            raise MissingPropertiesError([f"{s.object_type}.{s.name}" for s in missing])

    async def _finish_trailing(self) -> None:
        left = await trailing.finish(TRAILING_SECONDS)
        if left:
            log.warning("trailing_writes_abandoned", count=left)

    async def _shutdown_hooks(self) -> None:
        for c in self.plugins.connectors():
            shutdown = c.hook("cosync_shutdown")
            if shutdown is not None:
                try:
                    await maybe_await(shutdown(context=self.context))
                except Exception as exc:
                    log.warning("shutdown_hook_failed", connector=c.spec.name, error=type(exc).__name__)

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def stop(self) -> None:
        self.worker.stop()
        self.scheduler.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        # Stop first: the log line can fail (a closed stderr pipe raises), and a worker that no longer
        # stops on SIGTERM is only ever killed.
        self.stop()
        log.info("signal_received", signal=sig.name)

    async def start_relay(self) -> str | None:
        if not self.settings.relay.enabled:
            return None
        from .relay import RelayServer, create_app

        app = create_app(
            settings=self.settings,
            queue=self.context.queue,
            store=self.context.store,
            plugins=self.plugins,
            context=self.context,
        )
        self._relay = RelayServer(app, self.settings.relay.host, self.settings.relay.port)
        self.relay_url = await self._relay.start()
        self._stack.push_async_callback(self._relay.stop)
        log.info("relay_listening", url=self.relay_url)
        return self.relay_url

    async def run(self, *, with_relay: bool = True, with_scheduler: bool = True) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT when handlers are installed)."""
        if with_relay:
            await self.start_relay()
        tasks = [asyncio.create_task(self.worker.run())]
        for start in self.context.worker_starts:
            start()
        if with_scheduler:
            tasks.append(asyncio.create_task(self.scheduler.run()))
        try:
            await tasks[0]
        finally:
            self.scheduler.stop()
            await asyncio.gather(*tasks[1:], return_exceptions=True)
