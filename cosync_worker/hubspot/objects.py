"""CRM object operations (deals, contacts, companies, notes, tasks): single CRUD, batches of 100 and search.

Shapes: HubSpot's CRM object OpenAPI specs (``/work/shared/specs/hubspot/deals-v3.json``) and
https://developers.hubspot.com/docs/api/crm/deals (batch endpoints take up to 100 inputs) and
https://developers.hubspot.com/docs/api/crm/search (``filterGroups``, ``sorts``, ``limit`` <= 200, paging by
``paging.next.after``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from .batching import chunks, unique_ids
from .errors import HubSpotBatchError
from .transport import HubSpotTransport, segment

__all__ = ["SEARCH_PAGE_MAX", "ObjectsMixin"]

SEARCH_PAGE_MAX = 200

_OBJECT = "/crm/v3/objects/{objectType}"
_ONE = "/crm/v3/objects/{objectType}/{objectId}"


def _results(body: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(body, dict):
        return [], []
    results = [r for r in body.get("results") or [] if isinstance(r, dict)]
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    return results, errors


def _is_missing(error: dict[str, Any]) -> bool:
    return str(error.get("category", "")) == "OBJECT_NOT_FOUND" or str(error.get("status", "")) == "404"


class ObjectsMixin(HubSpotTransport):
    """CRM object calls; each method is one HubSpot operation (batches: one call per 100 records)."""

    async def get(
        self,
        object_type: str,
        object_id: str,
        *,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
        properties_with_history: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One record; raises :class:`.errors.NotFound` if it does not exist."""
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}/{segment(object_id, 'object id')}"
        params = {
            "properties": list(properties),
            "associations": list(associations),
            "propertiesWithHistory": list(properties_with_history),
        }
        result: dict[str, Any] = await self.request("GET", path, params=params, template=_ONE)
        return result

    async def create(
        self,
        object_type: str,
        properties: dict[str, Any],
        *,
        associations: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        body = {"properties": _stringify(properties), "associations": associations or []}
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}"
        result: dict[str, Any] = await self.request("POST", path, json=body, template=_OBJECT)
        return result

    async def update(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}/{segment(object_id, 'object id')}"
        body = {"properties": _stringify(properties)}
        result: dict[str, Any] = await self.request("PATCH", path, json=body, template=_ONE)
        return result

    async def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        *,
        properties: Sequence[str] = (),
        id_property: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records in the order of ``ids``; ids that do not exist are skipped (HubSpot's 207 errors)."""
        wanted = unique_ids(ids)
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}/batch/read"
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(wanted):
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in chunk],
                "properties": list(properties),
                "propertiesWithHistory": [],
            }
            if id_property:
                body["idProperty"] = id_property
            answer = await self.request("POST", path, json=body, template=f"{_OBJECT}/batch/read")
            results, errors = _results(answer)
            unexpected = [e for e in errors if not _is_missing(e)]
            if unexpected:
                raise HubSpotBatchError(f"POST {_OBJECT}/batch/read", list(found.values()), unexpected)
            for record in results:
                key = (record.get("properties") or {}).get(id_property) if id_property else record.get("id")
                if key is not None:
                    found[str(key)] = record
        return [found[i] for i in wanted if i in found]

    async def batch_create(self, object_type: str, inputs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``inputs``: ``{"properties": {...}, "associations": [...]}``; returns the created records."""
        prepared = [
            {
                **item,
                "properties": _stringify(_require(item, "properties")),
                "associations": item.get("associations") or [],
            }
            for item in inputs
        ]
        return await self._batch_write(object_type, "create", prepared)

    async def batch_update(self, object_type: str, inputs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``inputs``: ``{"id": ..., "properties": {...}}``; returns the updated records in input order."""
        prepared = []
        for item in inputs:
            record_id = str(_require(item, "id")).strip()
            if not record_id:
                raise ValueError("HubSpot batch update input has an empty 'id'")
            prepared.append({**item, "id": record_id, "properties": _stringify(_require(item, "properties"))})
        written = await self._batch_write(object_type, "update", prepared)
        order = {item["id"]: n for n, item in enumerate(prepared)}
        return sorted(written, key=lambda r: order.get(str(r.get("id")), len(order)))

    async def _batch_write(
        self, object_type: str, action: str, inputs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}/batch/{action}"
        template = f"{_OBJECT}/batch/{action}"
        written: list[dict[str, Any]] = []
        for chunk in chunks(inputs):
            results, errors = _results(
                await self.request("POST", path, json={"inputs": list(chunk)}, template=template)
            )
            written.extend(results)
            if errors:
                raise HubSpotBatchError(f"POST {template}", written, errors)
        return written

    async def search(
        self,
        object_type: str,
        *,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str] = (),
        sorts: Sequence[Any] = (),
        limit: int = 100,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching record, page by page (``limit`` per page, at most 200); each page draws search budget.

        HubSpot stops paging at 10,000 results: narrow the filter (e.g. by ``hs_lastmodifieddate``) beyond that.
        """
        if not 1 <= limit <= SEARCH_PAGE_MAX:
            raise ValueError(f"HubSpot search limit must be between 1 and {SEARCH_PAGE_MAX}, got {limit}")
        path = f"/crm/v3/objects/{segment(object_type, 'object type')}/search"
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": filter_groups,
                "properties": list(properties),
                "sorts": list(sorts),
                "limit": limit,
            }
            if after is not None:
                body["after"] = after
            page = await self.request("POST", path, json=body, template=f"{_OBJECT}/search")
            results, _ = _results(page)
            for record in results:
                yield record
            after = _next_after(page)
            if after is None or not results:
                return

    async def search_all(
        self,
        object_type: str,
        *,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str] = (),
        sorts: Sequence[Any] = (),
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        return [
            r
            async for r in self.search(
                object_type, filter_groups=filter_groups, properties=properties, sorts=sorts, limit=limit
            )
        ]


def _next_after(page: Any) -> str | None:
    if not isinstance(page, dict):
        return None
    nxt = (page.get("paging") or {}).get("next") or {}
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return str(after) if after not in (None, "") else None


def _require(item: dict[str, Any], key: str) -> Any:
    if not isinstance(item, dict) or key not in item:
        raise ValueError(f"HubSpot batch input is missing {key!r}: {item!r}"[:300])
    return item[key]


def _stringify(properties: dict[str, Any]) -> dict[str, str | None]:
    """HubSpot property values are strings on the wire; None clears a value (sent as empty string)."""
    if not isinstance(properties, dict):
        raise ValueError(
            f"HubSpot properties must be a mapping of name to value, got {type(properties).__name__}"
        )
    out: dict[str, str | None] = {}
    for name, value in properties.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif value is None:
            out[name] = ""
        else:
            out[name] = str(value)
    return out
