"""Associations v4: which records a record is linked to, singly or for a batch of records, and linking two.

Shapes: ``/work/shared/specs/hubspot/associations-v4.json`` and
https://developers.hubspot.com/docs/api/crm/associations/v4 (list with ``paging.next.after``; batch read
answers ``{"results": [{"from": {"id"}, "to": [{"toObjectId", "associationTypes"}], "paging"?}]}`` and 207
errors for records that have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .batching import chunks, unique_ids
from .transport import HubSpotTransport, segment

__all__ = ["AssociationsMixin"]

_LIST = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
_BATCH = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"
_DEFAULT = "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}"
_PAGE = 500


def _to_ids(items: Any) -> list[str]:
    return [str(t["toObjectId"]) for t in items or [] if isinstance(t, dict) and "toObjectId" in t]


def _after(holder: Any) -> str | None:
    nxt = ((holder or {}).get("paging") or {}).get("next") or {} if isinstance(holder, dict) else {}
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return str(after) if after not in (None, "") else None


class AssociationsMixin(HubSpotTransport):
    async def associations(self, from_type: str, object_id: str, to_type: str) -> list[str]:
        """Ids of the ``to_type`` records linked to one record (every page)."""
        path = (
            f"/crm/v4/objects/{segment(from_type, 'object type')}/{segment(object_id, 'object id')}"
            f"/associations/{segment(to_type, 'object type')}"
        )
        ids: list[str] = []
        after: str | None = None
        while True:
            page = await self.request("GET", path, params={"limit": _PAGE, "after": after}, template=_LIST)
            ids.extend(_to_ids((page or {}).get("results")))
            after = _after(page)
            if after is None:
                return unique_ids(ids) if ids else []

    async def batch_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """``{from_id: [to_id, ...]}`` for every id asked (``[]`` when it has none), 100 ids per call."""
        wanted = unique_ids(ids)
        path = f"/crm/v4/associations/{segment(from_type, 'object type')}/{segment(to_type, 'object type')}/batch/read"
        linked: dict[str, list[str]] = {i: [] for i in wanted}
        pending: list[dict[str, str]] = [{"id": i} for i in wanted]
        while pending:
            follow_up: list[dict[str, str]] = []
            for chunk in chunks(pending):
                answer = await self.request("POST", path, json={"inputs": list(chunk)}, template=_BATCH)
                for result in (answer or {}).get("results") or []:
                    source = str((result.get("from") or {}).get("id", ""))
                    if source not in linked:
                        continue
                    linked[source].extend(_to_ids(result.get("to")))
                    # One record with many links pages on its own: ask again for that id from its cursor.
                    after = _after(result)
                    if after is not None:
                        follow_up.append({"id": source, "after": after})
            pending = follow_up
        return {k: unique_ids(v) if v else [] for k, v in linked.items()}

    async def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Link two records with HubSpot's default (unlabelled) association type; idempotent."""
        path = (
            f"/crm/v4/objects/{segment(from_type, 'object type')}/{segment(from_id, 'object id')}"
            f"/associations/default/{segment(to_type, 'object type')}/{segment(to_id, 'object id')}"
        )
        await self.request("PUT", path, template=_DEFAULT)
