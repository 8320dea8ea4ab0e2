"""The portal's state: records of each object type with property history, property definitions and
groups, and associations. Pure state changes; HTTP shapes live in the route modules.

Each write returns the property changes it made so the caller can queue webhook events.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from .catalog import ASSOCIATION_TYPES, DEFAULT_ASSOCIATION, OBJECT_TYPES, resolve_object_type
from .errors import HubSpotError, not_found, property_errors, validation_error
from .standard_properties import standard_properties
from .values import InvalidValue, iso_now, normalise

__all__ = ["Actor", "Portal", "Record"]

# Set by HubSpot itself; a write naming them is rejected like HubSpot does (READ_ONLY_VALUE).
_SYSTEM = ("hs_object_id", "hs_lastmodifieddate", "lastmodifieddate", "hs_createdate")


@dataclass(frozen=True)
class Actor:
    """Who made a change: the app (``INTEGRATION``) or a person in the UI (``CRM_UI``)."""

    change_source: str
    source_id: str
    user_id: int | None = None


@dataclass
class Record:
    id: str
    object_type: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived: bool = False
    archived_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "properties": self.properties,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


class Portal:
    """All CRM state of one emulated portal."""

    def __init__(self) -> None:
        self._ids = itertools.count(10_000_001)
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            t: standard_properties(t) for t in OBJECT_TYPES
        }
        self.groups: dict[str, dict[str, dict[str, Any]]] = {
            t: {
                spec.group: {
                    "name": spec.group,
                    "label": spec.group.title(),
                    "displayOrder": -1,
                    "archived": False,
                }
            }
            for t, spec in OBJECT_TYPES.items()
        }
        self.records: dict[str, dict[str, Record]] = {t: {} for t in OBJECT_TYPES}
        self.archived: dict[str, dict[str, Record]] = {t: {} for t in OBJECT_TYPES}
        # (from type, from id) -> to type -> to id -> association type ids (both directions are stored)
        self.links: dict[tuple[str, str], dict[str, dict[str, set[int]]]] = {}

    # -- records --------------------------------------------------------------------------------
    def get(self, object_type: str, object_id: str, id_property: str | None = None) -> Record:
        if id_property and id_property != "hs_object_id":
            self.require_unique(object_type, id_property)
            for record in self.records[object_type].values():
                if record.properties.get(id_property) == object_id:
                    return record
            raise not_found(object_type, object_id)
        found = self.records[object_type].get(object_id)
        if found is None:
            raise not_found(object_type, object_id)
        return found

    def require_unique(self, object_type: str, name: str) -> None:
        definition = self.properties[object_type].get(name)
        if definition is None or not definition.get("hasUniqueValue"):
            raise validation_error(f"Property {name} is not a unique identifier property", idProperty=[name])

    def check(self, object_type: str, raw: Any) -> dict[str, str]:
        """Validate a ``properties`` object; every problem is reported at once, like HubSpot."""
        if not isinstance(raw, dict):
            raise validation_error("Invalid input JSON: 'properties' must be an object of name to value")
        problems: list[dict[str, str]] = []
        clean: dict[str, str] = {}
        for name, value in raw.items():
            definition = self.properties[object_type].get(name)
            if definition is None:
                problems.append(
                    {
                        "name": name,
                        "error": "PROPERTY_DOESNT_EXIST",
                        "message": f'Property "{name}" does not exist',
                    }
                )
                continue
            if name in _SYSTEM:
                problems.append(
                    {"name": name, "error": "READ_ONLY_VALUE", "message": f'Property "{name}" is read only'}
                )
                continue
            try:
                clean[name] = normalise(definition, value)
            except InvalidValue as exc:
                problems.append({"name": name, "error": exc.code, "message": str(exc)})
        if problems:
            raise property_errors(problems)
        return clean

    def create(self, object_type: str, properties: dict[str, str], actor: Actor) -> Record:
        now = iso_now()
        record_id = str(next(self._ids))
        record = Record(record_id, object_type, {}, now, now)
        stamped = {"createdate": now, "hs_createdate": now, "hs_object_id": record_id, **properties}
        self._write(record, stamped, actor, now)
        self.records[object_type][record_id] = record
        return record

    def update(self, record: Record, properties: dict[str, str], actor: Actor) -> dict[str, str]:
        """Apply ``properties``; returns the ones whose value really changed."""
        changed = {k: v for k, v in properties.items() if record.properties.get(k, "") != v}
        if changed:
            self._write(record, changed, actor, iso_now())
        return changed

    def _write(self, record: Record, changes: dict[str, str], actor: Actor, now: str) -> None:
        changes = {**changes, "hs_lastmodifieddate": now}
        if record.object_type == "contacts":
            changes["lastmodifieddate"] = now
        for name, value in changes.items():
            record.properties[name] = value
            entry: dict[str, Any] = {
                "value": value,
                "timestamp": now,
                "sourceType": actor.change_source,
                "sourceId": actor.source_id,
            }
            if actor.user_id is not None:
                entry["updatedByUserId"] = actor.user_id
            # newest first, as HubSpot lists history
            record.history.setdefault(name, []).insert(0, entry)
        record.updated_at = now

    def archive(self, object_type: str, object_id: str) -> Record | None:
        record = self.records[object_type].pop(object_id, None)
        if record is None:
            return None
        record.archived, record.archived_at = True, iso_now()
        self.archived[object_type][object_id] = record
        for to_type, targets in self.links.pop((object_type, object_id), {}).items():
            for to_id in targets:
                self.links.get((to_type, to_id), {}).get(object_type, {}).pop(object_id, None)
        return record

    # -- associations ---------------------------------------------------------------------------
    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: list[int]) -> None:
        self.get(from_type, from_id)
        self.get(to_type, to_id)
        for type_id in type_ids:
            spec = ASSOCIATION_TYPES.get(type_id)
            if spec is None or spec[:2] != (from_type, to_type):
                raise HubSpotError(
                    400,
                    "VALIDATION_ERROR",
                    f"{type_id} is not a valid association type id between {from_type} and {to_type}",
                    context={"associationTypeId": [str(type_id)]},
                )
            self.links.setdefault((from_type, from_id), {}).setdefault(to_type, {}).setdefault(
                to_id, set()
            ).add(type_id)
            self.links.setdefault((to_type, to_id), {}).setdefault(from_type, {}).setdefault(
                from_id, set()
            ).add(spec[2])

    def associate_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> int:
        type_id = DEFAULT_ASSOCIATION.get((from_type, to_type))
        if type_id is None:
            raise validation_error(f"No default association between {from_type} and {to_type}")
        self.associate(from_type, from_id, to_type, to_id, [type_id])
        return type_id

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.links.get((from_type, from_id), {}).get(to_type, {}).pop(to_id, None)
        self.links.get((to_type, to_id), {}).get(from_type, {}).pop(from_id, None)

    def associated(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return self.links.get((from_type, from_id), {}).get(to_type, {})

    # -- rendering ------------------------------------------------------------------------------
    def render(
        self,
        record: Record,
        properties: list[str] | None = None,
        with_history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict[str, Any]:
        """The public JSON of a record; unset properties are left out (the spec allows only strings)."""
        names = properties or list(OBJECT_TYPES[record.object_type].default_properties)
        if "hs_object_id" not in names:
            names = [*names, "hs_object_id"]
        body = record.as_dict()
        body["properties"] = {n: record.properties[n] for n in names if n in record.properties}
        if record.archived_at:
            body["archivedAt"] = record.archived_at
        if with_history:
            body["propertiesWithHistory"] = {
                n: copy.deepcopy(record.history[n]) for n in with_history if n in record.history
            }
        if associations:
            found: dict[str, Any] = {}
            for raw in associations:
                to_type = resolve_object_type(raw).name
                results = [
                    {"id": to_id, "type": self.type_name(type_id)}
                    for to_id, type_ids in self.associated(record.object_type, record.id, to_type).items()
                    for type_id in sorted(type_ids)
                ]
                if results:
                    found[to_type] = {"results": results}
            if found:
                body["associations"] = found
        return body

    @staticmethod
    def type_name(type_id: int) -> str:
        from_type, to_type, _, label = ASSOCIATION_TYPES[type_id]
        name = f"{OBJECT_TYPES[from_type].singular}_to_{OBJECT_TYPES[to_type].singular}"
        return name if label else f"{name}_unlabeled" if type_id in (341, 342) else name
