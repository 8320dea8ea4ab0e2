"""Waiting on eventually-true conditions in end-to-end tests, with a bound against hangs (not a timing)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cosync_worker.runtime import Runtime
    from cosync_worker.sandbox.hubspot import HubSpotEmulator

__all__ = ["until_drained", "wait_until"]


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool], timeout: float = 60.0, every: float = 0.05
) -> None:
    """Poll ``check`` (a plain or an async function) until it is true; ``AssertionError`` after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if await found if inspect.isawaitable(found) else found:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


async def until_drained(rt: Runtime, hubspot: HubSpotEmulator, timeout: float = 60.0) -> None:
    """Until every HubSpot webhook is delivered and handled: no message waiting or in flight in the queue and
    the worker idle (``Worker.idle``: trailing writes too). Checked twice, one poll apart: a receive under way
    may be claiming a message at that very moment. ``AssertionError`` after ``timeout`` seconds."""

    async def idle() -> bool:
        await hubspot.drain_webhooks()
        return await rt.context.queue.oldest_age() is None and rt.worker.idle()

    for _ in range(2):
        await wait_until(idle, timeout=timeout)
