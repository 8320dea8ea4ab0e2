"""Checking and normalising property values the way HubSpot does per property ``type``.

Types: https://developers.hubspot.com/docs/api/crm/properties#property-type-and-fieldtype-values
Date values are accepted as epoch milliseconds or ISO 8601; datetimes are stored as ISO 8601 UTC (what
HubSpot returns), dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

__all__ = ["InvalidValue", "iso_now", "normalise", "to_epoch_ms"]


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def iso_now() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_epoch_ms(raw: str) -> float | None:
    """Epoch ms of a ms number, an ISO datetime or an ISO date; None if it is neither."""
    text = raw.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def normalise(definition: dict[str, Any], raw: Any) -> str:
    """The stored string for ``raw`` or :class:`InvalidValue` naming the problem."""
    name = definition["name"]
    if raw is None:
        return ""
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    elif isinstance(raw, int | float):
        raw = repr(raw) if isinstance(raw, float) else str(raw)
    elif not isinstance(raw, str):
        raise InvalidValue("INVALID_TYPE", f"{json_type(raw)} was not a valid value for property {name}.")
    if raw == "":
        return ""
    kind = definition["type"]
    if kind == "number":
        try:
            float(raw)
        except ValueError:
            raise InvalidValue("INVALID_DOUBLE", f"{raw} was not a valid number.") from None
        return raw
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise InvalidValue("INVALID_BOOLEAN", f"{raw} was not a valid boolean (true/false).")
        return raw.lower()
    if kind in ("date", "datetime"):
        ms = to_epoch_ms(raw)
        if ms is None:
            raise InvalidValue(
                "INVALID_DATE", f"{raw} was not a valid date (epoch milliseconds or ISO 8601)."
            )
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        if kind == "date":
            return date(moment.year, moment.month, moment.day).isoformat()
        return iso(moment)
    if kind == "enumeration" and definition.get("options") and not definition.get("externalOptions"):
        allowed = [o["value"] for o in definition["options"]]
        values = raw.split(";") if definition.get("fieldType") == "checkbox" else [raw]
        for value in values:
            if value not in allowed:
                raise InvalidValue(
                    "INVALID_OPTION",
                    f"{value} was not one of the allowed options: {', '.join(allowed)}",
                )
    return raw


def json_type(value: Any) -> str:
    names: dict[type, str] = {dict: "an object", list: "an array"}
    return names.get(type(value), type(value).__name__)
