"""Splitting work into HubSpot batches: at most 100 inputs per batch call, no id twice in one batch.

https://developers.hubspot.com/docs/api/crm/deals ("batch ... up to 100 records")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

__all__ = ["BATCH_SIZE", "chunks", "unique_ids"]

BATCH_SIZE = 100
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique_ids(ids: Iterable[Any]) -> list[str]:
    """Ids as strings, duplicates dropped (HubSpot refuses a batch naming one id twice), order kept."""
    seen: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if not text:
            raise ValueError("HubSpot object id must not be empty")
        seen.setdefault(text, None)
    return list(seen)
