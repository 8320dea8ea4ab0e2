"""The backfill's resumable cursor: one record per action in the state store, its intent before the first
remote call and its result after, so a run killed at any point (``kill -9``) is continued by the next one
and nothing is done twice. Creations also rely on the remote's own idempotency (Partner Central's
``ClientToken``, a lookup by ``externalReferenceId``), which covers the window between a call and its record.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..store import Store
from .plan import Action

__all__ = ["DAY", "Ledger"]

DAY = 86_400.0
_PREFIX = "backfill:"


class Ledger:
    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock
        self._spending = asyncio.Lock()

    async def read(self, action: Action) -> dict[str, Any]:
        return await self.store.get_state(_PREFIX + action.key) or {}

    async def is_done(self, action: Action) -> bool:
        return (await self.read(action)).get("status") == "done"

    async def started(self, action: Action, **detail: Any) -> None:
        """The intent, written before the action's first write anywhere."""
        previous = await self.read(action)
        state = {**previous, **detail, "status": "started", "at": self.clock()}
        await self.store.put_state(_PREFIX + action.key, state)

    async def finished(self, action: Action, **result: Any) -> None:
        previous = await self.read(action)
        await self.store.put_state(
            _PREFIX + action.key, {**previous, **result, "status": "done", "at": self.clock()}
        )

    # -- the writes of a connector's quota spent by backfills in the last 24 h -------------------------
    async def writes_today(self, connector: str) -> int:
        state = await self.store.get_state(f"{_PREFIX}{connector}:writes") or {}
        if self.clock() - float(state.get("since") or 0) >= DAY:
            return 0
        return int(state.get("writes") or 0)

    async def try_spend(self, connector: str, writes: int, per_day: int) -> bool:
        """Count ``writes`` against today's share, or False (nothing counted) when they no longer fit."""
        key = f"{_PREFIX}{connector}:writes"
        async with self._spending:  # concurrent actions of this run add to one count
            state = await self.store.get_state(key) or {}
            now = self.clock()
            if now - float(state.get("since") or 0) >= DAY:
                state = {"since": now, "writes": 0}
            if int(state.get("writes") or 0) + writes > per_day:
                return False
            state["writes"] = int(state.get("writes") or 0) + writes
            await self.store.put_state(key, state)
            return True

    async def resume_after(self, connector: str) -> float | None:
        """When the day's quota used by backfills is whole again (None when it is not spent)."""
        state = await self.store.get_state(f"{_PREFIX}{connector}:writes") or {}
        since = float(state.get("since") or 0)
        return since + DAY if since and self.clock() - since < DAY else None
