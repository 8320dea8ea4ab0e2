"""Outgoing webhooks: subscriptions, event queue, batched signed delivery with retries.

Event fields: https://developers.hubspot.com/docs/api/webhooks#webhook-payloads
Signature v3: https://developers.hubspot.com/docs/api/webhooks/validating-requests --
base64(HMAC-SHA256(client_secret, method + uri + body + timestamp)), timestamp in ms in
``X-HubSpot-Request-Timestamp``. HubSpot sends up to 100 events per request and retries failed
deliveries with backoff; the emulator keeps the backoff short (``0.2 s`` doubling, capped at 5 s).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .objects import Actor

__all__ = ["SUBSCRIPTION_TYPES", "WebhookDispatcher", "sign_v3"]

SUBSCRIPTION_TYPES = tuple(
    f"{obj}.{kind}"
    for obj in ("deal", "contact", "company")
    for kind in ("creation", "propertyChange", "deletion", "associationChange")
)


def sign_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), source, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    id: int
    target_url: str
    types: set[str]


@dataclass
class Stats:
    delivered_events: int = 0
    failed_events: int = 0
    delivered_batches: int = 0
    failed_attempts: int = 0
    batches: list[list[dict[str, Any]]] = field(default_factory=list)


class WebhookDispatcher:
    """Collects events for ``flush_seconds`` then posts them per target in batches of ``batch_size``."""

    def __init__(
        self,
        *,
        client_secret: str,
        app_id: int,
        portal_id: int,
        batch_size: int,
        flush_seconds: float,
        max_attempts: int,
    ) -> None:
        self.client_secret = client_secret
        self.app_id = app_id
        self.portal_id = portal_id
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.max_attempts = max_attempts
        self.subscriptions: list[Subscription] = []
        self.stats = Stats()
        self._ids = itertools.count(1)
        self._sub_ids = itertools.count(1001)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def subscribe(self, target_url: str, types: Iterable[str]) -> Subscription:
        wanted = set(types)
        unknown = wanted - set(SUBSCRIPTION_TYPES)
        if unknown:
            raise ValueError(f"unknown subscription types: {', '.join(sorted(unknown))}")
        sub = Subscription(next(self._sub_ids), target_url, wanted)
        self.subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)

    def emit(
        self,
        subscription_type: str,
        object_id: str,
        actor: Actor,
        *,
        property_name: str | None = None,
        property_value: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Queue one event for every subscription to ``subscription_type`` (no-op without any)."""
        now = int(time.time() * 1000)
        for sub in self.subscriptions:
            if subscription_type not in sub.types:
                continue
            event: dict[str, Any] = {
                "eventId": next(self._ids),
                "subscriptionId": sub.id,
                "portalId": self.portal_id,
                "appId": self.app_id,
                "occurredAt": now,
                "subscriptionType": subscription_type,
                "attemptNumber": 0,
                "changeSource": actor.change_source,
                "sourceId": actor.source_id,
            }
            if not subscription_type.endswith(".associationChange"):
                # An association change names both ends instead (``fromObjectId``/``toObjectId``, in ``extra``).
                event["objectId"] = int(object_id)
            if property_name is not None:
                event["propertyName"] = property_name
                event["propertyValue"] = property_value or ""
            if subscription_type.endswith(".creation"):
                event["changeFlag"] = "CREATED"
            elif subscription_type.endswith(".deletion"):
                event["changeFlag"] = "DELETED"
            event.update(extra or {})
            self._pending += 1
            self._idle.clear()
            self._queue.put_nowait((sub.target_url, event))

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run(), name="hubspot-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._deliveries) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self) -> None:
        await self._idle.wait()

    def forget(self) -> None:
        """Drop queued events and counters (subscriptions stay: they are configuration)."""
        while not self._queue.empty():
            self._queue.get_nowait()
            self._done(1)
        self.stats = Stats()

    # -- internals ------------------------------------------------------------------------------
    def _done(self, n: int) -> None:
        self._pending -= n
        if self._pending <= 0:
            self._pending = 0
            self._idle.set()

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(self.flush_seconds)
            items = [first]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            by_target: dict[str, list[dict[str, Any]]] = {}
            for target, event in items:
                by_target.setdefault(target, []).append(event)
            for target, events in by_target.items():
                for i in range(0, len(events), self.batch_size):
                    task = asyncio.create_task(self._deliver(target, events[i : i + self.batch_size]))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, target: str, events: list[dict[str, Any]]) -> None:
        delay = 0.2
        try:
            for attempt in range(self.max_attempts):
                for event in events:
                    event["attemptNumber"] = attempt
                if await self._post(target, events):
                    self.stats.delivered_events += len(events)
                    self.stats.delivered_batches += 1
                    self.stats.batches.append(events)
                    return
                self.stats.failed_attempts += 1
                if attempt + 1 < self.max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            self.stats.failed_events += len(events)
        finally:
            self._done(len(events))

    async def _post(self, target: str, events: list[dict[str, Any]]) -> bool:
        assert self._session is not None
        body = json.dumps(events, separators=(",", ":")).encode()
        timestamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", target, body, timestamp),
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (cosync sandbox)",
        }
        try:
            async with self._session.post(target, data=body, headers=headers) as response:
                await response.read()
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
