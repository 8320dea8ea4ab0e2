"""What one catalog holds. ``AWS`` and ``Sandbox`` are separate stores, as in the real service
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_OpportunitySummary.html: "the catalog
... either AWS or Sandbox. This indicates the environment in which the opportunity is managed")."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .protocol import ApiError, now_ms, validation_error
from .solutions import seed_solutions

__all__ = ["CatalogState", "new_suffix", "page", "sort_records"]

_ALNUM = string.ascii_lowercase + string.digits


def new_suffix(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass
class CatalogState:
    name: str
    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, token) → id
    aws_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # opportunity id → summary
    invitations: dict[str, dict[str, Any]] = field(default_factory=dict)
    engagements: dict[str, dict[str, Any]] = field(default_factory=dict)
    from_opportunity_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_invitation_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    from_engagement_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    snapshot_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    associations: list[dict[str, Any]] = field(default_factory=list)  # engagement ↔ resource
    solutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.solutions = {s["Id"]: s for s in seed_solutions(self.name)}

    def next_opportunity_id(self) -> str:
        return f"O{1_000_000_000 + next(self._ids)}"

    def touch(self, record: dict[str, Any], key: str = "LastModifiedDate") -> datetime:
        """Bump a modification time, strictly increasing so optimistic locking always sees the change."""
        now = now_ms()
        previous = record.get(key)
        if isinstance(previous, datetime) and now <= previous:
            now = previous + timedelta(milliseconds=1)
        record[key] = now
        return now


def sort_records(
    records: list[dict[str, Any]], sort: dict[str, Any] | None, keys: dict[str, Any], default: str
) -> list[dict[str, Any]]:
    """Sort by one of the model's sort names; ``keys`` maps each name to a function of a record."""
    name = (sort or {}).get("SortBy", default)
    descending = (sort or {}).get("SortOrder", "ASCENDING") == "DESCENDING"
    key = keys[name]
    # None sorts first ascending, so records without the field do not break the comparison
    return sorted(records, key=lambda r: (key(r) is not None, key(r) or ""), reverse=descending)


def page(
    items: list[dict[str, Any]], params: dict[str, Any], default_size: int = 20
) -> tuple[list[dict[str, Any]], str | None]:
    """Cut a sorted list into pages; the NextToken is opaque to clients, as AWS's are."""
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
        except (ValueError, KeyError, TypeError):
            raise validation_error(
                "NextToken is not a token this API returned", reason="REQUEST_VALIDATION_FAILED"
            ) from None
        if start < 0:
            raise ApiError("ValidationException", "NextToken is invalid", Reason="REQUEST_VALIDATION_FAILED")
    size = int(params.get("MaxResults") or default_size)
    chunk = items[start : start + size]
    end = start + size
    next_token = (
        base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode() if end < len(items) else None
    )
    return chunk, next_token
