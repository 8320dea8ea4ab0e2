"""Work a handler leaves behind on purpose, to finish after its event is settled.

A push's stamp and note wait in a batch window of several write intervals (``WriteCoalescer``) so that many
pushes share one HubSpot call. Awaited by the handler, that window would keep the event in flight and, since
the events of one object are processed in order, hold the object's next edit behind it for the whole window.
Such writes are started here instead: the event settles at once, the write finishes on its own.

The process still counts them as work: :func:`pending` is part of the worker's ``idle()`` (what tests and
drains wait for), and a graceful stop calls :func:`finish`, which asks each to hurry (a batch window is cut
short) and waits for them, bounded, before the clients they use are closed. A kill loses what is pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from .logs import get_logger
from .shared_task import start_shared

__all__ = ["finish", "pending", "start_trailing"]

log = get_logger("cosync.trailing")

# Task -> what to call to make it hurry. Tasks of every event loop of the process (tests run many loops one
# after the other): each function looks only at the running loop's.
_TRAILING: dict[asyncio.Task[None], Callable[[], None] | None] = {}


def start_trailing(
    coro: Coroutine[Any, Any, None], *, what: str, hurry: Callable[[], None] | None = None
) -> asyncio.Task[None]:
    """Run ``coro`` past the current event; a failure is logged under ``what`` (never with values)."""

    async def guarded() -> None:
        try:
            await coro
        except Exception as exc:
            log.warning("trailing_write_failed", what=what, error=type(exc).__name__)

    task = start_shared(guarded(), name=f"trailing:{what}")
    _TRAILING[task] = hurry
    task.add_done_callback(_forget)
    return task


def _forget(task: asyncio.Task[None]) -> None:
    _TRAILING.pop(task, None)


def _ours() -> list[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    return [t for t in _TRAILING if t.get_loop() is loop and not t.done()]


def pending() -> int:
    """Trailing work of the running loop not finished yet."""
    return len(_ours())


async def finish(timeout: float) -> int:
    """Hurry every trailing task of the running loop and wait up to ``timeout`` seconds for them; the
    number still unfinished then (cancelled) is returned."""
    tasks = _ours()
    if not tasks:
        return 0
    for task in tasks:
        hurry = _TRAILING.get(task)
        if hurry is not None:
            hurry()
    _, left = await asyncio.wait(tasks, timeout=timeout)
    for task in left:
        task.cancel()
    if left:
        await asyncio.gather(*left, return_exceptions=True)
    return len(left)
