"""Custom properties: make sure the properties connectors declare exist, creating only what is missing.

Idempotent and cheap to repeat (one batch read per 100 properties when nothing is missing), safe when two
replicas race (a 409 "already exists" counts as already there). Groups are created first because HubSpot
refuses a property whose ``groupName`` does not exist.

Shapes: ``/work/shared/specs/hubspot/properties-v3.json`` and https://developers.hubspot.com/docs/api/crm/properties
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cosync_worker.hooks.types import PropertySpec

from .batching import chunks
from .errors import HubSpotBatchError, HubSpotError
from .transport import HubSpotTransport, segment

__all__ = ["PropertiesMixin"]

_BATCH_READ = "/crm/v3/properties/{objectType}/batch/read"
_BATCH_CREATE = "/crm/v3/properties/{objectType}/batch/create"
_GROUPS = "/crm/v3/properties/{objectType}/groups"


def _already_exists(error: dict[str, Any]) -> bool:
    return (
        str(error.get("category", "")) in {"OBJECT_ALREADY_EXISTS", "CONFLICT"}
        or str(error.get("status")) == "409"
    )


def _names(results: Any) -> set[str]:
    return {str(p["name"]) for p in results or [] if isinstance(p, dict) and "name" in p}


def _by_object_type(specs: Sequence[PropertySpec]) -> dict[str, list[PropertySpec]]:
    by_type: dict[str, list[PropertySpec]] = defaultdict(list)
    for spec in specs:
        if not spec.name or not spec.object_type:
            raise ValueError(f"property spec needs an object type and a name: {spec!r}")
        if spec.name not in {s.name for s in by_type[spec.object_type]}:
            by_type[spec.object_type].append(spec)
    return by_type


class PropertiesMixin(HubSpotTransport):
    async def missing_properties(self, specs: Sequence[PropertySpec]) -> list[PropertySpec]:
        """The declared properties HubSpot does not have (read only: one batch read per 100)."""
        missing: list[PropertySpec] = []
        for object_type, wanted in _by_object_type(specs).items():
            there = await self._existing_properties(object_type, [s.name for s in wanted])
            missing.extend(s for s in wanted if s.name not in there)
        return missing

    async def ensure_properties(self, specs: Sequence[PropertySpec]) -> tuple[list[str], list[str]]:
        """``(created, already_there)`` property names; creates missing groups and properties only."""
        created: list[str] = []
        existing: list[str] = []
        for object_type, wanted in _by_object_type(specs).items():
            there = await self._existing_properties(object_type, [s.name for s in wanted])
            missing = [s for s in wanted if s.name not in there]
            existing.extend(s.name for s in wanted if s.name in there)
            if not missing:
                continue
            await self._ensure_groups(object_type, {s.group_name for s in missing})
            made, raced = await self._create_properties(object_type, missing)
            created.extend(made)
            existing.extend(raced)
        return created, existing

    async def _existing_properties(self, object_type: str, names: list[str]) -> set[str]:
        path = f"/crm/v3/properties/{segment(object_type, 'object type')}/batch/read"
        found: set[str] = set()
        for chunk in chunks(names):
            body = {
                "archived": False,
                "dataSensitivity": "non_sensitive",
                "inputs": [{"name": n} for n in chunk],
            }
            # Missing names come back as 207 errors; only the results matter here.
            answer = await self.request("POST", path, json=body, template=_BATCH_READ)
            found |= _names((answer or {}).get("results"))
        return found

    async def _ensure_groups(self, object_type: str, groups: set[str]) -> None:
        path = f"/crm/v3/properties/{segment(object_type, 'object type')}/groups"
        answer = await self.request("GET", path, template=_GROUPS)
        for name in sorted(groups - _names((answer or {}).get("results"))):
            body = {"name": name, "label": name.replace("_", " ").title()}
            try:
                await self.request("POST", path, json=body, template=_GROUPS)
            except HubSpotError as exc:
                if exc.status != 409:  # another replica created it between our read and our write
                    raise

    async def _create_properties(
        self, object_type: str, specs: list[PropertySpec]
    ) -> tuple[list[str], list[str]]:
        path = f"/crm/v3/properties/{segment(object_type, 'object type')}/batch/create"
        created: list[str] = []
        raced: list[str] = []
        for chunk in chunks(specs):
            names = [s.name for s in chunk]
            try:
                answer = await self.request(
                    "POST", path, json={"inputs": [s.to_hubspot() for s in chunk]}, template=_BATCH_CREATE
                )
            except HubSpotError as exc:
                if exc.status != 409:
                    raise
                # The whole chunk conflicted: find out which of them now exist and which truly failed.
                there = await self._existing_properties(object_type, names)
                raced.extend(n for n in names if n in there)
                if len(there) < len(names):
                    raise
                continue
            made = _names((answer or {}).get("results"))
            errors = [e for e in (answer or {}).get("errors") or [] if isinstance(e, dict)]
            real = [e for e in errors if not _already_exists(e)]
            if real:
                raise HubSpotBatchError(
                    f"POST {_BATCH_CREATE}", [{"name": n} for n in created + list(made)], real
                )
            created.extend(n for n in names if n in made)
            raced.extend(n for n in names if n not in made)
        return created, raced
