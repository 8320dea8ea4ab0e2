"""The async HubSpot client: batching, the shared rate budget, retries and metrics in one place."""

from __future__ import annotations

from .client import HubSpotClient
from .coalesce import WriteCoalescer
from .errors import HubSpotBatchError, HubSpotError, NotFound
from .ratelimit import bucket_shape

__all__ = ["HubSpotBatchError", "HubSpotClient", "HubSpotError", "NotFound", "WriteCoalescer", "bucket_shape"]
