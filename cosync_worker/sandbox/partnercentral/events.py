"""The EventBridge events Partner Central publishes, in EventBridge's envelope.

Event types and the rule pattern (source ``aws.partnercentral-selling``, ``detail.catalog``):
https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html
Envelope fields: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .protocol import iso, now_ms

__all__ = ["DETAIL_TYPES", "EventBus", "EventSink"]

log = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], Awaitable[None]]

DETAIL_TYPES = (
    "Opportunity Created",
    "Opportunity Updated",
    "Opportunity Accepted",
    "Opportunity Rejected",
    "Engagement Invitation Created",
    "Engagement Invitation Accepted",
    "Engagement Invitation Rejected",
    "Engagement Invitation Expired",
    "Engagement Member Joined",
    "Engagement Member Added",
    "Resource Snapshot Created",
    "Engagement Resource Snapshot Created",
)


class EventBus:
    """Records every event in order and hands it to the sink; a failing sink is logged, never raised,
    because EventBridge delivery is decoupled from the API call that caused the change."""

    def __init__(self, account_id: str, sink: EventSink | None = None) -> None:
        self.account_id = account_id
        self.sink = sink
        self.events: list[dict[str, Any]] = []

    async def emit(
        self, detail_type: str, catalog: str, resources: list[str], **objects: Any
    ) -> dict[str, Any]:
        if detail_type not in DETAIL_TYPES:
            raise ValueError(f"unknown Partner Central event {detail_type!r}")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.partnercentral-selling",
            "account": self.account_id,
            "time": iso(now_ms()).replace(".000Z", "Z"),
            "region": "us-east-1",
            "resources": resources,
            "detail": {"schemaVersion": "1", "catalog": catalog, **objects},
        }
        self.events.append(event)
        if self.sink is not None:
            try:
                await self.sink(event)
            except Exception:
                log.exception("Partner Central emulator: event sink failed for %s", detail_type)
        return event
