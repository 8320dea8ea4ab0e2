"""Settling finished messages one by one, sharing round trips: each message's done keys and ack go out as
soon as its own handling finishes, together with whatever else finished meanwhile, never waiting for the rest
of the batch it arrived in (a slow neighbour would otherwise keep it unacked, and a crash would hand it out
again, until the queue's max receives dead-letters it)."""

from __future__ import annotations

import asyncio

from ..queue import Message, Queue
from ..shared_task import start_shared
from ..store import Store

__all__ = ["Acker"]

_Pending = tuple[Message, list[str], asyncio.Future[BaseException | None]]


class Acker:
    """``submit`` a finished message with the done keys of its run; the future resolves to ``None`` once its
    keys are recorded and it is acked, or to the error that stopped it (it then reappears after its
    visibility timeout, and the recorded keys, if any, make that redelivery a no-op)."""

    def __init__(self, queue: Queue, store: Store, keys_ttl: float) -> None:
        self.queue = queue
        self.store = store
        self.keys_ttl = keys_ttl
        self._pending: list[_Pending] = []
        self._flushing: asyncio.Task[None] | None = None

    def submit(self, message: Message, keys: list[str]) -> asyncio.Future[BaseException | None]:
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, keys, done))
        if self._flushing is None or self._flushing.done():
            # Not tied to the submitter: a batch cancelled at the end of a drain still gets its finished
            # messages acked (their work is done; handing them out again would only repeat it).
            self._flushing = start_shared(self._flush())
        return done

    async def wait(self) -> None:
        """Until every submitted message is settled (the drain calls it before the queue closes)."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        while self._pending:
            chunk, self._pending = self._pending, []
            error: BaseException | None = None
            try:
                # Recorded before the ack: a crash in between means a redelivery the keys turn into a
                # no-op, never a lost event.
                await self.store.record_keys([k for _, keys, _ in chunk for k in keys], self.keys_ttl)
                await self.queue.ack([m for m, _, _ in chunk])
            except Exception as exc:
                error = exc
            for _, _, done in chunk:
                if not done.done():
                    done.set_result(error)
