"""The ``Connector`` base: a connector declares, the framework does.

Subclass it, set ``name`` (and ``config_model``, ``properties``), declare handlers with ``@on``/``@every``/
``@route`` and clients with ``@client``, and point the ``cosync.connectors`` entry point at the class (or a
module whose ``cosync_plugin`` is the class). The hook implementations below are generated from those
declarations, so a connector writes none: pluggy finds them on the instance.
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from ..audit import audit_scope
from ..conflicts.announce import announce_outcome
from ..errors import Busy
from ..events import Event
from ..events.parsers import schedule_tick
from ..hooks import ConnectorSpec, Context, PropertySpec, RouteSpec, ScheduleSpec, hookimpl
from ..store import FencedStore, HeldLease, LockTimeout, Store, hold_lock
from .clients import OpenClients
from .cursor import Run, run_loop
from .declarations import ClientDecl, Declaration, EveryDecl, OnDecl, RouteDecl, declaration_of

__all__ = ["Connector"]


class Connector:
    """Base of every SDK connector; one instance per process."""

    __cosync_connector__: ClassVar[bool] = True  # the plugin manager instantiates classes carrying this
    name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel] | None] = None
    description: ClassVar[str] = ""
    properties: ClassVar[tuple[PropertySpec, ...]] = ()
    _declared: ClassVar[tuple[tuple[str, Declaration], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Declaration] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                decl = declaration_of(value)
                if decl is not None:
                    found[attr] = decl
                elif attr in found:
                    del found[attr]  # overridden without a declaration
        loops = [d.name for d in found.values() if isinstance(d, EveryDecl)]
        dupes = sorted({n for n in loops if loops.count(n) > 1})
        if dupes:
            raise TypeError(f"{cls.__name__}: loop {dupes[0]!r} is declared twice")
        cls._declared = tuple(found.items())

    def __init__(self) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set the class attribute `name`")
        self._context: Context | None = None
        self._clients = OpenClients(self.name)
        self._fenced: FencedStore | None = None

    # -- what handlers use -----------------------------------------------------------------------
    @property
    def context(self) -> Context:
        if self._context is None:
            raise RuntimeError(f"connector {self.name!r} has not been started")
        return self._context

    @property
    def config(self) -> Any:
        """The validated ``connectors.<name>`` section (an instance of ``config_model``), or None."""
        return self.context.config(self.name) if self.config_model is not None else None

    @property
    def store(self) -> Store:
        """The shared store; its writes are fenced, so a handler that lost a lease it holds stops before
        writing (``LeaseLost``, a retry) instead of overwriting what the lease's new holder wrote."""
        store = self.context.store
        if self._fenced is None or self._fenced.unfenced is not store:
            self._fenced = FencedStore(store)
        return self._fenced  # type: ignore[return-value]

    @property
    def clients(self) -> dict[str, Any]:
        """The clients declared with ``@client``, opened, by method name."""
        return self._clients.by_name

    @property
    def hubspot(self) -> Any:
        """The runtime's one HubSpot client (shared rate budget); present whenever ``hubspot.access_token`` is."""
        return self.context.service("hubspot")

    @property
    def notifier(self) -> Any:
        """The runtime's notification service (``cosync_worker.notify``), or None outside a runtime."""
        return self.context.services.get("notify")

    def configured(self) -> bool:
        """False keeps an installed connector idle: no client is opened and its events are acknowledged.
        By default a config model's ``configured`` property decides (an empty section is then valid)."""
        return bool(getattr(self.config, "configured", True))

    def preflight(self) -> None:
        """Checks at start-up, before any client opens, of a configured connector; raise ``ConfigError``."""

    async def tick(self, loop: str, slot: int = 0) -> None:
        """Run one tick of the loop ``loop`` now, as the scheduler's event would (the cursor read and kept)."""
        await self.cosync_handle_event(schedule_tick(loop, slot), self.context)

    def sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        """The ``connectors.<name>`` section pointing this connector at the emulators (``cosync sandbox``)."""
        return None

    def now(self) -> datetime:
        """The clock of signposts; tests override it."""
        return datetime.now(UTC)

    @asynccontextmanager
    async def lock(
        self,
        key: str,
        *,
        ttl_seconds: float = 30.0,
        wait_seconds: float = 15.0,
        max_hold_seconds: float | None = None,
    ) -> AsyncIterator[HeldLease]:
        """Hold ``<name>:<key>`` across every replica, renewed while held (a slow body keeps it; a killed
        holder frees it after ``ttl_seconds``). The body's store writes are fenced: if the lease is lost anyway
        (the store unreachable for a whole TTL) the body stops with ``LeaseLost`` before its next write. If
        another worker holds it past ``wait_seconds`` the event is retried once a killed holder's lease could
        have expired. ``max_hold_seconds`` (six TTLs by default) bounds how long a live holder keeps it."""
        try:
            async with hold_lock(
                self.context.store,
                f"{self.name}:{key}",
                ttl_seconds,
                wait_seconds=wait_seconds,
                max_hold_seconds=max_hold_seconds,
            ) as lease:
                yield lease
        except LockTimeout as exc:
            raise Busy(str(exc), defer=ttl_seconds / 2) from None

    # -- the declarations, read off the class ----------------------------------------------------
    def _of(self, kind: type[Any]) -> list[tuple[str, Any]]:
        return [(attr, d) for attr, d in self._declared if isinstance(d, kind)]

    def spec(self) -> ConnectorSpec:
        patterns = dict.fromkeys(p for _, d in self._of(OnDecl) for p in d.patterns)
        schedules = tuple(
            ScheduleSpec(d.name, d.interval_seconds, d.jitter_seconds, d.description)
            for _, d in self._of(EveryDecl)
        )
        return ConnectorSpec(self.name, tuple(patterns), self.config_model, schedules, self.description)

    def _cursor_name(self, decl: EveryDecl) -> str | None:
        if decl.cursor is True:
            return f"{self.name}:{decl.name}"
        return decl.cursor or None

    # -- the generated hook implementations ------------------------------------------------------
    @hookimpl
    def cosync_connector(self) -> ConnectorSpec:
        return self.spec()

    @hookimpl
    async def cosync_startup(self, context: Context) -> None:
        self._context = context
        if self.configured():
            self.preflight()
            factories: list[tuple[str, Callable[[], Any]]] = [
                (d.name, getattr(self, attr)) for attr, d in self._of(ClientDecl)
            ]
            await self._clients.open(factories)

    @hookimpl
    async def cosync_shutdown(self, context: Context) -> None:
        await self._clients.close()

    @hookimpl
    async def cosync_handle_event(self, event: Event, context: Context) -> None:
        self._context = context
        if not self.configured():
            return
        with audit_scope(event):  # what a handler records in the audit trail names this event and its caller
            await self._dispatch(event)
        # A resolution or rollback the handler applied is told to the deal by the core, for every connector.
        await announce_outcome(context, event)

    async def _dispatch(self, event: Event) -> None:
        for attr, loop in self._of(EveryDecl):
            if event.type == f"schedule.{loop.name}":
                handler: Callable[[Run], Awaitable[datetime | None]] = getattr(self, attr)
                lookback = (
                    loop.lookback_seconds(self) if callable(loop.lookback_seconds) else loop.lookback_seconds
                )
                await run_loop(
                    self.store,
                    loop.name,
                    self._cursor_name(loop),
                    handler,
                    event,
                    self.now(),
                    timedelta(seconds=lookback),
                )
        for attr, decl in self._of(OnDecl):
            if any(fnmatch.fnmatchcase(event.type, p) for p in decl.patterns):
                await getattr(self, attr)(event)

    @hookimpl
    def cosync_hubspot_properties(self) -> list[PropertySpec] | None:
        return list(self.properties) or None

    @hookimpl
    def cosync_routes(self, context: Context) -> list[RouteSpec] | None:
        self._context = self._context or context
        routes = [
            RouteSpec(
                d.method,
                d.path,
                getattr(self, attr),
                d.summary,
                d.body_model,
                d.response_model,
                d.auth,
                d.tags,
                d.query_model,
                d.error_statuses,
                d.error_descriptions,
            )
            for attr, d in self._of(RouteDecl)
        ]
        return routes or None

    @hookimpl
    def cosync_sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        section = self.sandbox_config(sandbox)
        return None if section is None else {self.name: section}
