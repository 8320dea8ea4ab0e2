"""Group commit of webhook batches for a queue whose cost is per transaction (the local SQLite queue syncs
to disk once per ``send``): batches arriving while a ``send`` is in flight go together in the next one.

Each caller still returns only after a ``send`` holding all of its messages succeeded, and a failed ``send``
fails every caller in it (the backend stores a ``send`` atomically, so none of them was stored).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..queue import Queue
from ..shared_task import start_shared

__all__ = ["GroupCommitQueue", "Item"]

Item = tuple[str, str | None, str | None]


class GroupCommitQueue:
    """Wraps a queue's ``send``; at most ``max_messages`` are combined into one call."""

    def __init__(self, queue: Queue, max_messages: int = 500) -> None:
        self.queue = queue
        self.max_messages = max_messages
        self._pending: list[tuple[Sequence[Item], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def send(self, items: Sequence[Item]) -> None:
        if not items:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = start_shared(self._flush())
        await asyncio.shield(future)

    def _take(self) -> list[tuple[Sequence[Item], asyncio.Future[None]]]:
        taken: list[tuple[Sequence[Item], asyncio.Future[None]]] = []
        count = 0
        while self._pending and (not taken or count + len(self._pending[0][0]) <= self.max_messages):
            items, future = self._pending.pop(0)
            taken.append((items, future))
            count += len(items)
        return taken

    async def _flush(self) -> None:
        while self._pending:
            group = self._take()
            try:
                await self.queue.send([item for items, _ in group for item in items])
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in group:
                    if not future.done():
                        future.set_result(None)
