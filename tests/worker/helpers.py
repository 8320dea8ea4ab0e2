from __future__ import annotations

import itertools
import time

from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.queue import Queue
from cosync_worker.testing.waiting import wait_until as wait_until  # re-exported for the tests

_ids = itertools.count(1)


def deal_change(deal: int | str, value: str, event_id: int | None = None) -> Event:
    return parse_hubspot_event(
        {
            "eventId": event_id if event_id is not None else next(_ids) + int(time.time() * 1000),
            "subscriptionType": "deal.propertyChange",
            "objectId": deal,
            "propertyName": "dealstage",
            "propertyValue": value,
            "occurredAt": int(time.time() * 1000),
        }
    )


async def send(queue: Queue, events: list[Event]) -> None:
    for i in range(0, len(events), 10):
        await queue.send([(e.to_json(), e.ordering_key, e.dedupe_key) for e in events[i : i + 10]])
