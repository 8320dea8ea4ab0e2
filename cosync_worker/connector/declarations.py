"""The decorators a connector declares its handlers with; the framework reads them off the class.

``@on`` handles events by type (glob patterns), ``@every`` is a scheduled loop (optionally with a cursor),
``@route`` is a REST route on the relay, ``@client`` builds a client the framework opens and closes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

__all__ = ["ClientDecl", "Declaration", "EveryDecl", "OnDecl", "RouteDecl", "client", "every", "on", "route"]

F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__cosync_declaration__"


@dataclass(frozen=True)
class OnDecl:
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class EveryDecl:
    name: str
    interval_seconds: float
    cursor: str | bool = False
    jitter_seconds: float = 0.0
    description: str = ""
    # seconds, or a function of the connector instance (to read them from its config)
    lookback_seconds: float | Callable[[Any], float] = 0.0


@dataclass(frozen=True)
class RouteDecl:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    summary: str = ""
    body_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    auth: bool = True
    tags: tuple[str, ...] = ()
    query_model: type[BaseModel] | None = None
    error_statuses: tuple[int, ...] = ()
    error_descriptions: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientDecl:
    name: str


Declaration = OnDecl | EveryDecl | RouteDecl | ClientDecl


def declaration_of(fn: object) -> Declaration | None:
    found = getattr(fn, _ATTR, None)
    return found if isinstance(found, OnDecl | EveryDecl | RouteDecl | ClientDecl) else None


def _mark(decl: Declaration) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        if declaration_of(fn) is not None:
            raise TypeError(f"{fn.__qualname__}: one declaration per method (@on, @every, @route or @client)")
        setattr(fn, _ATTR, decl)
        return fn

    return mark


def on(*patterns: str) -> Callable[[F], F]:
    """``async def handler(self, event) -> None``, run for every event whose type matches a glob pattern."""
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise TypeError("@on needs at least one event type pattern, e.g. @on('deal.propertyChange')")
    return _mark(OnDecl(tuple(patterns)))


def every(
    name: str,
    interval_seconds: float,
    *,
    cursor: str | bool = False,
    jitter_seconds: float = 0.0,
    description: str = "",
    lookback_seconds: float | Callable[[Any], float] = 0.0,
) -> Callable[[F], F]:
    """``async def loop(self, run: Run) -> datetime | None``, run on each tick of the loop ``name``.

    With ``cursor`` (``True`` for ``"<connector>:<name>"``, or the cursor's name in the store) the framework
    passes the stored bookmark as ``run.since`` and, if the loop succeeds, advances it to the newest value the
    loop returns, never past ``run.signpost`` (the run's start), so what changed during the run is seen next.
    ``lookback_seconds`` (a number, or a function of the connector such as ``lambda c: c.config.overlap``)
    hands the loop ``run.since`` that much before the bookmark: a re-read window for remote update times that
    lag (clock skew); the bookmark itself still only moves forward.
    ``interval_seconds``/``jitter_seconds`` are defaults that ``schedules.<name>`` in config overrides.
    """
    if not name or not interval_seconds > 0:
        raise TypeError(
            f"@every needs a loop name and a positive interval, got {name!r}, {interval_seconds!r}"
        )
    if not callable(lookback_seconds) and lookback_seconds < 0:
        raise TypeError(f"@every {name!r}: lookback_seconds must not be negative")
    return _mark(EveryDecl(name, interval_seconds, cursor, jitter_seconds, description, lookback_seconds))


def route(
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
    path: str,
    *,
    summary: str = "",
    body_model: type[BaseModel] | None = None,
    response_model: type[BaseModel] | None = None,
    auth: bool = True,
    tags: tuple[str, ...] = (),
    query_model: type[BaseModel] | None = None,
    error_statuses: tuple[int, ...] = (),
    error_descriptions: Mapping[int, str] | None = None,
) -> Callable[[F], F]:
    """``async def handler(self, request) -> web.StreamResponse``, served by the relay (see ``RouteSpec``: a
    ``query_model`` is read with ``request_query``; ``error_statuses`` are the route's documented 4xx/5xx)."""
    decl = RouteDecl(
        method,
        path,
        summary,
        body_model,
        response_model,
        auth,
        tags,
        query_model,
        tuple(error_statuses),
        dict(error_descriptions or {}),
    )
    return _mark(decl)


def client(fn: F) -> F:
    """``def name(self) -> client`` (or ``async def``): built and opened at start-up, in declaration order,
    closed at shutdown in reverse order; reach it as ``self.clients["name"]``."""
    return _mark(ClientDecl(fn.__name__))(fn)
