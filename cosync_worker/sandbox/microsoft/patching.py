"""Applying an update to a referral: JSON Patch (what Microsoft documents) or a partial Referral object.

https://learn.microsoft.com/en-us/partner-center/developer/patch-a-referral : the body is a JSON Patch
document and "the API currently only supports the replace and add operations".
"""

from __future__ import annotations

import copy
from typing import Any

from .schema import READ_ONLY_FIELDS, ValidationError

__all__ = ["apply_json_patch", "apply_merge", "deep_merge"]


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def apply_json_patch(target: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """A patched copy of ``target``; raises :class:`ValidationError` naming the bad operation."""
    result = copy.deepcopy(target)
    for index, op in enumerate(operations):
        where = f"[{index}]"
        if not isinstance(op, dict):
            raise ValidationError(where, f"Patch operation {where} must be an object.")
        kind, path = op.get("op"), op.get("path")
        if kind not in ("replace", "add"):
            raise ValidationError(
                f"{where}.op",
                f"Patch operation {where}: op {kind!r} is not supported; use 'replace' or 'add'.",
            )
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise ValidationError(
                f"{where}.path", f"Patch operation {where}: path must look like '/details/dealValue'."
            )
        if "value" not in op:
            raise ValidationError(f"{where}.value", f"Patch operation {where}: 'value' is required.")
        segments = [_unescape(s) for s in path[1:].split("/")]
        if segments[0] in READ_ONLY_FIELDS:
            raise ValidationError(segments[0], f"The property '{segments[0]}' is read-only.")
        parent: Any = result
        for depth, seg in enumerate(segments[:-1]):
            if isinstance(parent, dict):
                if parent.get(seg) is None:
                    following = segments[depth + 1]
                    # "add /team/-" on a referral without a team starts the array.
                    parent[seg] = [] if following == "-" or following.isdigit() else {}
                parent = parent[seg]
            elif isinstance(parent, list) and seg.isdigit() and int(seg) < len(parent):
                parent = parent[int(seg)]
            else:
                raise ValidationError(path, f"Patch operation {where}: path '{path}' does not exist.")
        last = segments[-1]
        if isinstance(parent, dict):
            parent[last] = op["value"]
        elif isinstance(parent, list):
            if last == "-" and kind == "add":
                parent.append(op["value"])
            elif last.isdigit() and int(last) <= len(parent) and kind == "add":
                parent.insert(int(last), op["value"])
            elif last.isdigit() and int(last) < len(parent):
                parent[int(last)] = op["value"]
            else:
                raise ValidationError(path, f"Patch operation {where}: index '{last}' is out of range.")
        else:
            raise ValidationError(path, f"Patch operation {where}: path '{path}' does not exist.")
    return result


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; anything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_merge(target: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A partial Referral merged in; read-only properties may be echoed back unchanged but not altered."""
    for key in READ_ONLY_FIELDS & changes.keys():
        if changes[key] != target.get(key):
            raise ValidationError(key, f"The property '{key}' is read-only.")
    return deep_merge(target, {k: v for k, v in changes.items() if k not in READ_ONLY_FIELDS})
