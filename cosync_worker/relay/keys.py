"""Typed keys of the relay's ``web.Application`` state (what handlers read off ``request.app``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ..config import Settings
    from ..hooks import Context, PluginManager
    from ..queue import Queue
    from ..store import Store
    from .group_commit import GroupCommitQueue
    from .openapi import OperationDoc
    from .proxies import TrustedProxies

__all__ = [
    "CLOCK",
    "CONTEXT",
    "INTAKE",
    "OPERATIONS",
    "PLUGINS",
    "PROXIES",
    "QUEUE",
    "SETTINGS",
    "STORE",
]

SETTINGS: web.AppKey[Settings] = web.AppKey("cosync_settings")
QUEUE: web.AppKey[Queue] = web.AppKey("cosync_queue")
# What webhook intake sends through: the queue itself, or a group commit in front of it.
INTAKE: web.AppKey[Queue | GroupCommitQueue] = web.AppKey("cosync_intake")
STORE: web.AppKey[Store] = web.AppKey("cosync_store")
PLUGINS: web.AppKey[PluginManager] = web.AppKey("cosync_plugins")
CONTEXT: web.AppKey[Context] = web.AppKey("cosync_context")
# Wall-clock seconds; injectable so tests can step past the signature age limit without sleeping.
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("cosync_clock")
OPERATIONS: web.AppKey[list[OperationDoc]] = web.AppKey("cosync_operations")
PROXIES: web.AppKey[TrustedProxies] = web.AppKey("cosync_proxies")
