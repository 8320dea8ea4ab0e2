"""``DealConnector``: the plumbing every connector that keeps HubSpot deals in step with a cloud shares.

A deal is worked on under a lease that holds across replicas (``self.deal_lock``); the connector's
``<status_prefix>_sync_status``/``_sync_error`` deal properties tell the rep what went wrong; the deal's
company and contacts are read through the runtime's HubSpot client. Subclass it instead of ``Connector``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from ..config import ConfigError
from ..store import HeldLease
from .base import Connector

__all__ = ["DealConnector", "associated", "has_tag"]

_ERROR_LIMIT = 1000  # HubSpot text properties take more, but the rep reads a line or two


def has_tag(name: Any, tag: str) -> bool:
    """Whether a deal name carries the connector's tag (``#GCP``, ``#Microsoft``), case-insensitively."""
    return isinstance(name, str) and bool(name) and tag.lower() in name.lower()


async def associated(
    hubspot: Any, deal_id: str, to_type: str, properties: Sequence[str], *, limit: int = 1
) -> list[dict[str, Any]]:
    """The properties of up to ``limit`` records of ``to_type`` associated with the deal (first first)."""
    ids = (await hubspot.associations("deals", deal_id, to_type))[:limit]
    if not ids:
        return []
    if len(ids) == 1:
        record = await hubspot.get(to_type, ids[0], properties=properties)
        return [dict(record.get("properties") or {})]
    records = await hubspot.batch_read(to_type, ids, properties=properties)
    return [dict(r.get("properties") or {}) for r in records]


class DealConnector(Connector):
    """A connector between HubSpot deals and one cloud; needs ``hubspot.access_token``."""

    status_prefix: ClassVar[str] = ""  # defaults to ``name``: properties <prefix>_sync_status, _sync_error

    @property
    def _prefix(self) -> str:
        return self.status_prefix or self.name

    def preflight(self) -> None:
        if "hubspot" not in self.context.services:
            raise ConfigError([f"hubspot.access_token: required by the {self.name} connector"])

    @asynccontextmanager
    async def deal_lock(self, deal_id: str, *, ttl_seconds: float = 20.0) -> AsyncIterator[HeldLease]:
        """The deal's lease: a webhook, a scheduled loop and an API job never interleave on one deal, on any
        replica. It is renewed while held, so ``ttl_seconds`` bounds only how long a killed holder blocks the
        deal, not how long a flow may take."""
        async with self.lock(
            f"deal:{deal_id}", ttl_seconds=ttl_seconds, wait_seconds=ttl_seconds / 2
        ) as lease:
            yield lease

    async def set_error(self, deal_id: str, message: str) -> None:
        """Show the rep why the last sync failed (the remote system's own message, or the fields to fix)."""
        await self.hubspot.update(
            "deals",
            deal_id,
            {f"{self._prefix}_sync_status": "error", f"{self._prefix}_sync_error": message[:_ERROR_LIMIT]},
        )
