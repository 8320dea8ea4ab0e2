"""Shared rate budgets: the token-bucket maths every store uses, and :func:`acquire`, which clients call.

A store's ``take_tokens`` never sleeps: it either takes the tokens (returns 0.0) or says how long until enough
exist. :func:`acquire` loops take/sleep with a little jitter, so processes that were told the same wait do not
all come back in the same millisecond and contend for the same refill.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from .base import Store

__all__ = ["Clock", "Sleep", "acquire", "check_bucket_args", "draw"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Jitter as a fraction of the wait, plus a floor, so equal waits spread out; small enough not to waste budget.
_JITTER_FRACTION = 0.1
_JITTER_FLOOR_SECONDS = 0.002


def check_bucket_args(budget: str, rate_per_second: float, capacity: float, tokens: float) -> None:
    """Raise ``ValueError`` naming the problem for a draw that could never succeed or makes no sense."""
    if not budget:
        raise ValueError("rate budget name must not be empty")
    if not rate_per_second > 0:
        raise ValueError(f"rate budget {budget!r}: rate_per_second must be positive, got {rate_per_second}")
    if not capacity > 0:
        raise ValueError(f"rate budget {budget!r}: capacity must be positive, got {capacity}")
    if not 0 < tokens <= capacity:
        raise ValueError(
            f"rate budget {budget!r}: tokens must be in (0, capacity={capacity}], got {tokens} "
            "(more than the capacity could never be drawn)"
        )


def draw(
    level: float | None, updated_at: float, now: float, rate_per_second: float, capacity: float, tokens: float
) -> tuple[float, float]:
    """One token-bucket step: ``(new_level, wait)``; ``level=None`` is a bucket never drawn from (full).

    Refill is ``elapsed * rate`` capped at ``capacity`` (a clock that stepped back refills nothing). If the
    refilled level covers ``tokens`` they are taken and ``wait`` is 0.0; otherwise nothing is taken and
    ``wait`` is the seconds until the level will cover them.
    """
    current = (
        capacity if level is None else min(capacity, level + max(0.0, now - updated_at) * rate_per_second)
    )
    if current >= tokens:
        return current - tokens, 0.0
    return current, (tokens - current) / rate_per_second


async def acquire(
    store: Store,
    budget: str,
    rate: float,
    capacity: float,
    tokens: float = 1.0,
    *,
    timeout: float | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Wait until ``tokens`` are drawn from the shared bucket ``budget``; call before each rate-limited request.

    Raises ``TimeoutError`` if they cannot be drawn within ``timeout`` seconds (it gives up as soon as the
    store's own estimate says the deadline would be missed, instead of sleeping until it), ``ValueError`` for
    impossible arguments and :class:`~cosync_worker.store.base.StoreUnavailable` if the store is down.
    ``clock`` and ``sleep`` are there so tests can drive time instead of waiting for it.
    """
    check_bucket_args(budget, rate, capacity, tokens)
    deadline = None if timeout is None else clock() + timeout
    while True:
        wait = await store.take_tokens(budget, rate, capacity, tokens)
        if wait <= 0:
            return
        pause = wait * (1 + random.random() * _JITTER_FRACTION) + random.random() * _JITTER_FLOOR_SECONDS
        if deadline is not None and clock() + wait > deadline:
            raise TimeoutError(f"rate budget {budget!r}: {tokens} token(s) not available within {timeout} s")
        await sleep(pause)
