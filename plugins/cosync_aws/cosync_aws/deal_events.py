"""Work the ``aws`` connector queues for itself about one HubSpot deal (an API job, a held edit's retry)."""

from __future__ import annotations

import uuid
from typing import Any

from cosync_worker.events import Event, ObjectRef, Source

__all__ = ["deal_event"]


def deal_event(
    kind: str,
    deal_id: str,
    dedupe_key: str,
    payload: dict[str, Any],
    *,
    source: Source,
    connectors: list[str] | None = None,
) -> Event:
    """An event of type ``kind`` in the deal's queue group (ordered with its HubSpot events), run once per
    ``dedupe_key``; ``connectors`` addresses it to those connectors only."""
    ref = ObjectRef(system="hubspot", type="deal", id=deal_id)
    return Event(
        id=str(uuid.uuid4()),
        source=source,
        type=kind,
        object=ref,
        ordering_key=ref.key,
        dedupe_key=dedupe_key,
        payload=payload,
        connectors=connectors,
    )
