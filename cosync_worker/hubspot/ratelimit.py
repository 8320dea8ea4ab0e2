"""The HubSpot rate budget: token buckets sized so that a burst can never exceed HubSpot's rolling window.

Why the bucket is not simply ``rate = limit / window, capacity = limit``: HubSpot counts requests in a
*rolling* window (https://developers.hubspot.com/docs/api/usage-details: "100 requests per 10 seconds" for
private apps, search 5 requests per second). A token bucket admits at most ``capacity + rate * W`` requests in
any interval of length ``W``: it may start that interval full and keeps refilling during it. With
``capacity = limit`` and ``rate = limit / window``, a full bucket spent at once and then refilled lets through
``2 * limit`` in one window, which HubSpot answers with 429s. So we choose

    capacity = max(1, limit // 10)                       (a tenth of the window as burst)
    rate     = (limit - capacity) / (window + skew)       (skew = 0.1 s)

so ``capacity + rate * window < limit`` for *every* window position. The ``skew`` term is the arrival
reordering we tolerate: a request drawn earlier may reach HubSpot up to 100 ms after one drawn later (event
loop load, connection set-up), which squeezes more requests into one server-side window than were drawn in
it. Sustained throughput is ~89 % of a 10-second limit: the price of never seeing a 429 in steady state.

With a ``Store`` the buckets live in it (``hubspot:<name>`` and ``hubspot:<name>:search``), so every process
using the same store draws from one budget; without one an in-process bucket does the same maths.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cosync_worker.store.base import Store
from cosync_worker.store.budget import acquire, draw

__all__ = ["BucketShape", "LocalBuckets", "RateBudget", "bucket_shape"]

_ARRIVAL_SKEW_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class BucketShape:
    rate_per_second: float
    capacity: float


def bucket_shape(limit: int, window_seconds: float) -> BucketShape:
    """Token-bucket parameters that never admit more than ``limit`` requests in any ``window_seconds``."""
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1 request per window, got {limit}")
    if window_seconds <= 0:
        raise ValueError(f"rate window must be positive, got {window_seconds}")
    capacity = max(1, limit // 10)
    refill = max(limit - capacity, 1) / (window_seconds + _ARRIVAL_SKEW_SECONDS)
    return BucketShape(rate_per_second=refill, capacity=float(capacity))


class LocalBuckets:
    """In-process token buckets with the same maths as ``Store.take_tokens`` (used when no store is given)."""

    def __init__(self) -> None:
        self._levels: dict[str, tuple[float | None, float]] = {}

    async def take_tokens(
        self, budget: str, rate_per_second: float, capacity: float, tokens: float = 1.0
    ) -> float:
        now = time.monotonic()
        level, updated = self._levels.get(budget, (None, now))
        new_level, wait = draw(level, updated, now, rate_per_second, capacity, tokens)
        self._levels[budget] = (new_level, now)
        return wait


class RateBudget:
    """The draws every HubSpot request makes before it is sent: the general budget, plus search for search."""

    def __init__(
        self,
        name: str,
        *,
        store: Store | None,
        requests_per_window: int,
        window_seconds: float,
        search_per_second: int,
    ) -> None:
        self.key = f"hubspot:{name}"
        self.search_key = f"{self.key}:search"
        self.general = bucket_shape(requests_per_window, window_seconds)
        self.search = bucket_shape(search_per_second, 1.0)
        self._store = store
        self._local = LocalBuckets()
        # One waiter per bucket per process polls the budget; the rest queue here in arrival order. That
        # keeps a crowd of throttled calls from hammering the store, and serves them first come, first served.
        self._turns = {self.key: asyncio.Lock(), self.search_key: asyncio.Lock()}

    async def acquire(self, *, search: bool = False) -> None:
        """Wait until this request may be sent. Search draws first so a general token is not held idle."""
        if search:
            await self._draw(self.search_key, self.search)
        await self._draw(self.key, self.general)

    async def _draw(self, key: str, shape: BucketShape) -> None:
        async with self._turns[key]:
            await self._draw_now(key, shape)

    async def _draw_now(self, key: str, shape: BucketShape) -> None:
        if self._store is not None:
            await acquire(self._store, key, shape.rate_per_second, shape.capacity)
            return
        while (wait := await self._local.take_tokens(key, shape.rate_per_second, shape.capacity)) > 0:
            await asyncio.sleep(wait)
