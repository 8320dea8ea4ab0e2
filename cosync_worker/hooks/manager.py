"""Finding plugins (entry points, default plugins, modules named in config) and calling their hooks."""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pluggy

from ..config import ConfigError, Settings, validate_section
from ..events.sources import register_event_sources
from . import specs
from .types import ConnectorSpec, EventSourceSpec

__all__ = ["ENTRY_POINT_GROUP", "Connector", "PluginManager", "maybe_await"]

ENTRY_POINT_GROUP = "cosync.connectors"

# The core's own features are plugins of the same contract a third party uses (datasette's habit).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "cosync_worker.notify.digest_loop",
    "cosync_worker.relay.builtin_routes",
    "cosync_worker.notify.hubspot_channel",
    "cosync_worker.conflicts.announce",
    "cosync_worker.store.prune_loop",
)


# Hooks whose callers are synchronous (declarations read at load time). An ``async def`` implementation of one
# is run to completion when called, on an event loop of its own: it may await what it opens itself, not the
# process's clients. The other hooks (startup, shutdown, handle_event) are awaited on the process's loop.
_DECLARATION_HOOKS = frozenset(
    {
        "cosync_connector",
        "cosync_hubspot_properties",
        "cosync_routes",
        "cosync_sandbox_config",
        "cosync_notification_channels",
        "cosync_notice_kinds",
        "cosync_emulators",
        "cosync_demo",
        "cosync_conflict_objects",
        "cosync_event_sources",
    }
)


def _run_to_completion(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="cosync-hook") as pool:
        return pool.submit(asyncio.run, coro).result()


def _blocking(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        return _run_to_completion(fn(*args))

    return call


def _plugin_object(plugin: object) -> object:
    """What to register for ``plugin``: a module may name its plugin in ``cosync_plugin``, and an SDK connector
    class (marked ``__cosync_connector__``) is registered as its instance."""
    if inspect.ismodule(plugin):
        plugin = getattr(plugin, "cosync_plugin", plugin)
    if isinstance(plugin, type) and getattr(plugin, "__cosync_connector__", False):
        plugin = plugin()
    return plugin


def _bind(impl: Any) -> Any:
    """Call a hook implementation with only the arguments it declares, as pluggy itself does."""
    argnames = tuple(impl.argnames)

    def call(**kwargs: Any) -> Any:
        return impl.function(*[kwargs[name] for name in argnames])

    return call


def _event_sources(declared: Any) -> list[EventSourceSpec]:
    specs = list(declared or ())
    for spec in specs:
        if not isinstance(spec, EventSourceSpec):
            raise TypeError(f"cosync_event_sources returned {type(spec).__name__}, expected EventSourceSpec")
    return specs


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@dataclass(frozen=True)
class Connector:
    """A registered plugin that declared itself a connector, with its own hook functions by hook name."""

    spec: ConnectorSpec
    plugin: object
    plugin_name: str
    hooks: dict[str, Any]

    def hook(self, name: str) -> Any | None:
        return self.hooks.get(name)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with cosync's discovery rules and per-connector dispatch."""

    def __init__(self) -> None:
        super().__init__("cosync")
        self.add_hookspecs(specs)

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """pluggy's ``register``, plus: SDK connector classes and ``cosync_plugin`` modules, and ``async def``
        implementations of declaration hooks made callable by their synchronous callers."""
        target = _plugin_object(plugin)
        registered = super().register(target, name)
        for caller in self.get_hookcallers(target) or []:
            if caller.name not in _DECLARATION_HOOKS:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is target and inspect.iscoroutinefunction(impl.function):
                    # pluggy marks ``function`` Final for its own users; swapping the callable keeps argnames.
                    setattr(impl, "function", _blocking(impl.function))  # noqa: B010
        for impl in self.hook.cosync_event_sources.get_hookimpls():
            if impl.plugin is target:
                # Parsers run where no plugin manager is at hand (the queue's decoder): the table is the process's.
                declared: Any = impl.function()
                register_event_sources(_event_sources(declared))
        return registered

    def _hooks_of(self, plugin: object) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in ("cosync_startup", "cosync_shutdown", "cosync_handle_event"):
            for impl in getattr(self.hook, name).get_hookimpls():
                if impl.plugin is plugin:
                    found[name] = _bind(impl)
        return found

    def load(self, settings: Settings | None = None, *, entry_points: bool = True) -> PluginManager:
        """Register default plugins, entry-point plugins and ``plugin_modules``; honour ``plugins.<name>: false``."""
        enabled = settings.plugins if settings is not None else {}
        for module in DEFAULT_PLUGINS:
            self.register(importlib.import_module(module), name=module)
        if entry_points and (settings is None or settings.load_entry_points):
            self.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for module in getattr(settings, "plugin_modules", []) if settings is not None else []:
            if not self.has_plugin(module):
                self.register(importlib.import_module(module), name=module)
        for name, on in enabled.items():
            if not on and self.has_plugin(name):
                self.unregister(name=name)
        return self

    def register_all(self, plugins: Iterable[object]) -> None:
        for plugin in plugins:
            self.register(plugin)

    def connectors(self) -> list[Connector]:
        """Every plugin that answered ``cosync_connector``, in registration order."""
        found: list[Connector] = []
        for impl in reversed(self.hook.cosync_connector.get_hookimpls()):
            spec = impl.function()
            if isinstance(spec, ConnectorSpec):
                found.append(Connector(spec, impl.plugin, impl.plugin_name, self._hooks_of(impl.plugin)))
        names = [c.spec.name for c in found]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError([f"plugins: connector name {n!r} is declared twice" for n in dupes])
        return found

    def validate_connector_configs(self, settings: Settings) -> dict[str, Any]:
        """Validate ``connectors.<name>`` with each connector's model; unknown sections are errors."""
        problems: list[str] = []
        configs: dict[str, Any] = {}
        connectors = {c.spec.name: c for c in self.connectors()}
        for name in settings.connectors:
            if name not in connectors:
                problems.append(f"connectors.{name}: no installed connector is named {name!r}")
        for name, connector in connectors.items():
            model = connector.spec.config_model
            if model is None:
                continue
            try:
                configs[name] = validate_section(
                    model, settings.connectors.get(name, {}), f"connectors.{name}"
                )
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return configs
