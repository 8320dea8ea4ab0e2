"""Waiting on eventually-true conditions in end-to-end tests, with a bound against hangs (not a timing)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

__all__ = ["wait_until"]


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
