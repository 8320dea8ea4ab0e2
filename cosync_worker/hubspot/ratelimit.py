"""The HubSpot rate budget: the general bucket every request draws from, plus the search bucket.

HubSpot's limits (https://developers.hubspot.com/docs/api/usage-details): "100 requests per 10 seconds" for
private apps in a rolling window, search 5 requests per second. The bucket maths that never exceeds a rolling
window is :func:`cosync_worker.remote_budget.bucket_shape`. With a ``Store`` the buckets live in it
(``hubspot:<name>`` and ``hubspot:<name>:search``), so every process using the same store draws from one budget.
"""

from __future__ import annotations

from cosync_worker.remote_budget import BucketShape, LocalBuckets, SharedBucket, bucket_shape
from cosync_worker.store.base import Store

__all__ = ["BucketShape", "LocalBuckets", "RateBudget", "bucket_shape"]


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
        self._general = SharedBucket(self.key, self.general, store)
        self._search = SharedBucket(self.search_key, self.search, store)

    async def acquire(self, *, search: bool = False) -> None:
        """Wait until this request may be sent. Search draws first so a general token is not held idle."""
        if search:
            await self._search.acquire()
        await self._general.acquire()
