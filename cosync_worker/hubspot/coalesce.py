"""Writes that concurrent flows make within a short window, sent as one batch call.

Several flows each writing one small thing (a sync stamp on its deal, a note on its timeline) cost one HubSpot
call each. ``WriteCoalescer`` holds each such write for at most ``window_seconds`` and sends every write of the
same kind queued meanwhile in one batch call (``POST /crm/v3/objects/{objectType}/batch/update`` or
``.../batch/create``, up to 100 inputs a call; the client splits larger ones):
https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/notes/batch/create-notes and
https://developers.hubspot.com/docs/api/crm/deals ("Update a batch of deals"). A write alone in its window
goes out as the single-object call it would have been.

Each caller waits until its write is answered and gets that batch's error if it failed (the whole batch: a
caller must never be told its write landed when it did not). Updates of the same object in one window are
merged in arrival order (HubSpot refuses a batch naming one id twice). A write that must go out at once
(``update_now``) takes the object's queued updates with it, so an older queued value never lands after a
newer direct one. ``hurry()`` (a graceful stop) ends every window at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..shared_task import start_shared
from .client import HubSpotClient

__all__ = ["WriteCoalescer"]

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Write:
    object_id: str | None  # updates
    properties: dict[str, Any]
    associations: list[dict[str, Any]] = field(default_factory=list)  # creations
    done: asyncio.Future[None] | None = None  # set when queued for a window


class WriteCoalescer:
    """``await batch.update("deals", id, props)`` / ``await batch.create("notes", props, associations)``: sent
    with the others of the same kind made within ``window_seconds`` (0: at once, one call each)."""

    def __init__(self, client: HubSpotClient, window_seconds: float, *, sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.window = window_seconds
        self._sleep = sleep
        self._pending: dict[tuple[str, str], list[_Write]] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        self._hurry = asyncio.Event()
        self._in_flight: dict[tuple[str, str], asyncio.Task[None]] = {}  # (type, id) -> the batch sending it
        self.calls = 0  # HubSpot calls made (tests and metrics)
        self.writes = 0  # writes carried by them

    async def update(self, object_type: str, object_id: str, properties: dict[str, Any]) -> None:
        if self.window <= 0:
            await self._send(object_type, "update", [_Write(object_id, properties)])
            return
        await asyncio.shield(self.update_soon(object_type, object_id, properties))

    def update_soon(
        self, object_type: str, object_id: str, properties: dict[str, Any]
    ) -> asyncio.Future[None]:
        """Queued now (before any later ``update_now`` of the object), answered when its batch is: for a
        caller that does not wait for it (``cosync_worker.trailing``)."""
        return self._enqueue(object_type, "update", _Write(object_id, properties))

    def create_soon(
        self, object_type: str, properties: dict[str, Any], associations: list[dict[str, Any]] | None = None
    ) -> asyncio.Future[None]:
        return self._enqueue(object_type, "create", _Write(None, properties, list(associations or [])))

    async def update_now(self, object_type: str, object_id: str, properties: dict[str, Any]) -> None:
        """``properties`` written at once, over the object's updates still waiting in the window (sent in
        the same call, which answers their callers too)."""
        sending = self._in_flight.get((object_type, object_id))
        if sending is not None:  # a batch carrying an older update of it is under way: it lands first
            await asyncio.wait({sending})
        queued = self._pending.get((object_type, "update"), [])
        taken = [w for w in queued if w.object_id == object_id]
        if taken:
            queued[:] = [w for w in queued if w.object_id != object_id]
        merged: dict[str, Any] = {}
        for write in taken:
            merged.update(write.properties)
        merged.update(properties)
        try:
            self.calls += 1
            await self.client.update(object_type, object_id, merged)
            self.writes += 1 + len(taken)
        except BaseException as exc:
            _settle(taken, exc)
            raise
        _settle(taken, None)

    def hurry(self) -> None:
        """End every window now (and every later one: the process is stopping)."""
        self._hurry.set()

    async def create(
        self, object_type: str, properties: dict[str, Any], associations: list[dict[str, Any]] | None = None
    ) -> None:
        if self.window <= 0:
            await self._send(object_type, "create", [_Write(None, properties, list(associations or []))])
            return
        await asyncio.shield(self.create_soon(object_type, properties, associations))

    def _enqueue(self, object_type: str, action: str, write: _Write) -> asyncio.Future[None]:
        if self.window <= 0:
            return asyncio.ensure_future(self._send(object_type, action, [write]))
        write.done = asyncio.get_running_loop().create_future()
        key = (object_type, action)
        queued = self._pending.setdefault(key, [])
        queued.append(write)
        if len(queued) == 1:  # the first of its window: it sends them all once the window ends
            task = start_shared(self._flush_later(key))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        # Callers await it shielded: one cancelled while waiting does not cancel the others' batch.
        return write.done

    async def _flush_later(self, key: tuple[str, str]) -> None:
        writes: list[_Write] = []
        sending: list[tuple[str, str]] = []
        try:
            await self._nap()
            writes = self._pending.pop(key, [])
            this = asyncio.current_task()
            assert this is not None
            sending = [(key[0], w.object_id) for w in writes if w.object_id is not None]
            self._in_flight.update((s, this) for s in sending)
            await self._send(key[0], key[1], writes)
        except BaseException as exc:
            writes = writes or self._pending.pop(key, [])
            _settle(writes, exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            for s in sending:
                self._in_flight.pop(s, None)
        _settle(writes, None)

    async def _nap(self) -> None:
        """The window: ``window_seconds``, or until :meth:`hurry`."""
        if self._hurry.is_set():
            return
        nap = asyncio.ensure_future(self._sleep(self.window))
        woken = asyncio.ensure_future(self._hurry.wait())
        try:
            await asyncio.wait({nap, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            woken.cancel()

    async def _send(self, object_type: str, action: str, writes: list[_Write]) -> None:
        """One call for ``writes`` (a batch, or the single-object call when there is one)."""
        if not writes:
            return
        self.calls += 1
        if action == "update":
            merged: dict[str, dict[str, Any]] = {}
            for write in writes:
                assert write.object_id is not None
                merged.setdefault(write.object_id, {}).update(write.properties)
            if len(merged) == 1:
                [(object_id, props)] = merged.items()
                await self.client.update(object_type, object_id, props)
            else:
                await self.client.batch_update(
                    object_type, [{"id": i, "properties": p} for i, p in merged.items()]
                )
        elif len(writes) == 1:
            await self.client.create(object_type, writes[0].properties, associations=writes[0].associations)
        else:
            inputs = [{"properties": w.properties, "associations": w.associations} for w in writes]
            await self.client.batch_create(object_type, inputs)
        self.writes += len(writes)


def _settle(writes: list[_Write], exc: BaseException | None) -> None:
    failed = None
    if exc is not None:
        failed = exc if isinstance(exc, Exception) else RuntimeError(f"batch not sent: {exc!r}")
    for write in writes:
        if write.done is None or write.done.done():
            continue
        if failed is None:
            write.done.set_result(None)
        else:
            write.done.set_exception(failed)
