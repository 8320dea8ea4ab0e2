"""Owners (the HubSpot users records are assigned to), cached: connectors look the same few up constantly.

Shape: ``/work/shared/specs/hubspot/owners-v3.json`` and https://developers.hubspot.com/docs/api/crm/owners
(``GET /crm/v3/owners/{ownerId}`` answers ``{"id", "email", "firstName", "lastName", "userId", ...}``).
"""

from __future__ import annotations

from typing import Any

from .errors import NotFound
from .transport import HubSpotTransport, segment

__all__ = ["OWNER_CACHE_SECONDS", "OwnersMixin"]

OWNER_CACHE_SECONDS = 600.0
_ONE = "/crm/v3/owners/{ownerId}"
_LIST = "/crm/v3/owners/"


class OwnersMixin(HubSpotTransport):
    async def owner(self, owner_id: str) -> dict[str, Any] | None:
        """The owner, or None if HubSpot has no such owner; answers (None too) are cached for 10 minutes."""
        key = str(owner_id).strip()
        hit, value = self.cached("owner", key)
        if hit:
            return dict(value) if value is not None else None
        try:
            found: dict[str, Any] | None = await self.request(
                "GET",
                f"/crm/v3/owners/{segment(key, 'owner id')}",
                params={"idProperty": "id"},
                template=_ONE,
            )
        except NotFound:
            found = None
        self.remember("owner", key, found, OWNER_CACHE_SECONDS)
        return dict(found) if found is not None else None

    async def owner_by_email(self, email: str) -> dict[str, Any] | None:
        """The owner whose email is ``email`` (``GET /crm/v3/owners/?email=``), or None; cached like ``owner``."""
        key = email.strip().lower()
        hit, value = self.cached("owner-email", key)
        if hit:
            return dict(value) if value is not None else None
        page: dict[str, Any] = await self.request(
            "GET", _LIST, params={"email": email.strip(), "limit": 1}, template=_LIST
        )
        found = next(iter(page.get("results") or []), None)
        self.remember("owner-email", key, found, OWNER_CACHE_SECONDS)
        return dict(found) if found is not None else None
