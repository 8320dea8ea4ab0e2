"""``HubSpotClient``: the transport plus every HubSpot operation cosync uses, in one object per portal.

Connectors and the notification service hold one of these; it owns the rate budget, retries and metrics
(see :mod:`.transport`), so nothing else ever talks to HubSpot directly.
"""

from __future__ import annotations

from typing import Any

from .associations import AssociationsMixin
from .objects import ObjectsMixin
from .owners import OwnersMixin
from .pipelines import PipelinesMixin
from .properties import PropertiesMixin

__all__ = ["HubSpotClient"]


class HubSpotClient(ObjectsMixin, AssociationsMixin, PropertiesMixin, OwnersMixin, PipelinesMixin):
    """Async HubSpot CRM client; use as ``async with HubSpotClient(url, token, store=store) as hs: ...``."""

    async def __aenter__(self) -> HubSpotClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
