"""Tasks that serve every caller, not the one that happened to start them.

A component's runner (the write scheduler's turns, the notification service's queue, the ack and group-commit
flushers, a coalescer's window) is started lazily by whichever caller comes first. ``asyncio.create_task``
copies that caller's context into it: its log fields (the event id), its audit scope and the leases it holds
would then be the runner's for its whole life, so logs named the wrong event and a released lease could fence
writes made for later callers. :func:`start_shared` starts it in an empty context instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["start_shared"]

T = TypeVar("T")


def start_shared(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """``coro`` as a task of the running loop with none of the current context."""
    return asyncio.get_running_loop().create_task(coro, name=name, context=contextvars.Context())
