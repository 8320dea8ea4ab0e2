"""CRM search: filterGroups (OR of ANDed filters), sorts, query, paging.

Semantics per https://developers.hubspot.com/docs/api/crm/search : string comparison is
case-insensitive, numbers and dates compare numerically, CONTAINS_TOKEN matches whole words and allows
``*`` wildcards, at most 5 filterGroups with 6 filters each (18 filters in all) and ``limit`` <= 200.
``sorts`` is accepted both as the spec's strings (``"amount"``, ``"-amount"`` for descending) and as
HubSpot's documented objects ``{"propertyName", "direction": "ASCENDING"|"DESCENDING"}``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .errors import validation_error
from .objects import Record
from .values import to_epoch_ms

__all__ = ["OPERATORS", "search"]

OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "BETWEEN",
)
_TOKEN = re.compile(r"[\w@.\-]+")


def _key(value: str, kind: str) -> float | str:
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value.lower()
    if kind in ("date", "datetime"):
        ms = to_epoch_ms(value)
        return ms if ms is not None else value.lower()
    return value.lower()


def _matches(record: Record, f: dict[str, Any], kinds: dict[str, str]) -> bool:
    name = f["propertyName"]
    op = f["operator"]
    actual = record.id if name == "hs_object_id" else record.properties.get(name, "")
    if op == "HAS_PROPERTY":
        return actual != ""
    if op == "NOT_HAS_PROPERTY":
        return actual == ""
    kind = kinds.get(name, "string")
    if op in ("IN", "NOT_IN"):
        wanted = {_key(str(v), kind) for v in f.get("values") or []}
        hit = actual != "" and _key(actual, kind) in wanted
        return hit if op == "IN" else not hit
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f.get("value", "")).lower()
        tokens = [t.lower() for t in _TOKEN.findall(actual)] + [actual.lower()]
        hit = any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
        return hit if op == "CONTAINS_TOKEN" else not hit
    if actual == "":
        # HubSpot treats a missing value as not matching any comparison except NEQ
        return op == "NEQ"
    a = _key(actual, kind)
    if op == "BETWEEN":
        low, high = _key(str(f.get("value", "")), kind), _key(str(f.get("highValue", "")), kind)
        return type(a) is type(low) is type(high) and low <= a <= high  # type: ignore[operator]
    b = _key(str(f.get("value", "")), kind)
    if op == "EQ":
        return a == b
    if op == "NEQ":
        return a != b
    if type(a) is not type(b):
        return False
    return {"LT": a < b, "LTE": a <= b, "GT": a > b, "GTE": a >= b}[op]  # type: ignore[operator]


def _parse_sorts(raw: Any) -> list[tuple[str, bool]]:
    sorts: list[tuple[str, bool]] = []
    for item in raw or []:
        if isinstance(item, str):
            sorts.append((item.lstrip("-"), item.startswith("-")))
        elif isinstance(item, dict) and isinstance(item.get("propertyName"), str):
            direction = item.get("direction", "ASCENDING")
            if direction not in ("ASCENDING", "DESCENDING"):
                raise validation_error(f"Unknown sort direction {direction!r}; use ASCENDING or DESCENDING")
            sorts.append((item["propertyName"], direction == "DESCENDING"))
        else:
            raise validation_error(
                f"Invalid sort {item!r}: expected a property name or {{propertyName, direction}}"
            )
    return sorts


def _check_groups(groups: Any, known: dict[str, str]) -> list[list[dict[str, Any]]]:
    if groups is None:
        return []
    if not isinstance(groups, list) or len(groups) > 5:
        raise validation_error("filterGroups must be a list of at most 5 groups")
    checked: list[list[dict[str, Any]]] = []
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > 6:
            raise validation_error("each filterGroup needs a 'filters' list of at most 6 filters")
        total += len(filters)
        for f in filters:
            if not isinstance(f, dict) or not isinstance(f.get("propertyName"), str):
                raise validation_error("each filter needs a 'propertyName' string")
            if f.get("operator") not in OPERATORS:
                raise validation_error(
                    f"Unknown filter operator {f.get('operator')!r}; expected one of {', '.join(OPERATORS)}"
                )
            if f["propertyName"] not in known:
                raise validation_error(
                    f"There was a problem with the request: property {f['propertyName']} does not exist",
                    propertyName=[f["propertyName"]],
                )
            if f["operator"] in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
                raise validation_error(f"operator {f['operator']} needs a 'values' list")
        checked.append(filters)
    if total > 18:
        raise validation_error("at most 18 filters are allowed across all filterGroups")
    return checked


def search(
    records: list[Record], body: dict[str, Any], kinds: dict[str, str]
) -> tuple[list[Record], int, int]:
    """Matching records of one page, the total match count and the offset of that page."""
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 200:
        raise validation_error("limit must be an integer between 0 and 200", limit=[str(limit)])
    after = body.get("after") or "0"
    if not str(after).isdigit():
        raise validation_error(f"Invalid 'after' paging cursor {after!r}", after=[str(after)])
    groups = _check_groups(body.get("filterGroups"), kinds)
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise validation_error("query must be a string")
    sorts = _parse_sorts(body.get("sorts"))
    hits = [r for r in records if not groups or any(all(_matches(r, f, kinds) for f in g) for g in groups)]
    if query:
        needle = query.lower()
        hits = [r for r in hits if any(needle in v.lower() for v in r.properties.values())]
    hits.sort(key=lambda r: int(r.id))
    for name, descending in reversed(sorts):
        kind = kinds.get(name, "string")
        present = [r for r in hits if r.properties.get(name, "") != ""]
        missing = [r for r in hits if r.properties.get(name, "") == ""]
        present.sort(key=lambda r: _sort_key(r.properties[name], kind), reverse=descending)
        hits = present + missing
    start = int(after)
    return hits[start : start + limit], len(hits), start


def _sort_key(value: str, kind: str) -> tuple[int, float, str]:
    key = _key(value, kind)
    return (0, key, "") if isinstance(key, float) else (1, 0.0, key)
