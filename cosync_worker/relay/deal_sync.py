"""Push one deal now: what the console's "sync now", ``POST /deals/{id}/sync`` and ``cosync sync deal ID``
share. Two HubSpot-shaped events, addressed to the chosen connectors (all when none is named):

* ``deal.creation``: a tagged deal no cloud knows yet is created there (every connector's creation flow is
  idempotent, and a deal already linked costs one read);
* ``deal.propertyChange`` of ``dealname`` (with its current value): every connector treats it as "push this
  deal", sending what differs from the last sync.

Events of one deal share its ordering key, so the creation runs first. The relay and the console put them on
the queue through the webhook intake; the CLI dispatches them in its own process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from ..events import Event, parse_hubspot_event
from ..hooks import ConnectorSpec
from ..queue import Queue
from .group_commit import GroupCommitQueue

__all__ = ["deal_sync_events", "deal_syncing", "queue_deal_sync"]

SYNC_EVENT_TYPES = ("deal.creation", "deal.propertyChange")


def deal_syncing(specs: Iterable[ConnectorSpec]) -> list[str]:
    """The names of the connectors a "sync now" reaches: those that handle deal events (not the core's own
    loops, such as the notification digest or audit pruning)."""
    return sorted({s.name for s in specs if any(s.handles(t) for t in SYNC_EVENT_TYPES)})


def deal_sync_events(
    deal_id: str, deal_name: str, *, connectors: Sequence[str] = (), source: str = "COSYNC"
) -> list[Event]:
    """The events of one "sync now" of ``deal_id`` (a numeric HubSpot id; the caller checked it exists)."""
    now_ms = int(time.time() * 1000)
    common = {"objectId": int(deal_id), "occurredAt": now_ms, "changeSource": source}
    events = [
        parse_hubspot_event({"eventId": now_ms, "subscriptionType": "deal.creation", **common}),
        parse_hubspot_event(
            {
                "eventId": now_ms + 1,
                "subscriptionType": "deal.propertyChange",
                "propertyName": "dealname",
                "propertyValue": deal_name,
                **common,
            }
        ),
    ]
    return [e.addressed_to(list(connectors)) for e in events] if connectors else events


async def queue_deal_sync(
    intake: Queue | GroupCommitQueue,
    deal_id: str,
    deal_name: str,
    *,
    connectors: Sequence[str] = (),
    source: str = "COSYNC",
) -> list[Event]:
    events = deal_sync_events(deal_id, deal_name, connectors=connectors, source=source)
    await intake.send([(e.to_json(), e.ordering_key, e.dedupe_key) for e in events])
    return events
