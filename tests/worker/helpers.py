from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.queue import Queue

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


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")
