"""One flow at a time per deal, across message groups and replicas.

A deal's HubSpot events are ordered in the deal's queue group, but Partner Central's events about its
opportunity arrive in the opportunity's group, so a push (HubSpot -> AWS) and a reverse sync (AWS -> HubSpot)
of one deal can otherwise run at the same moment: each reads the other side before the other writes, and the
two sides end up holding each other's old values. The lock is a key in the shared store with a TTL, so a
holder that is killed frees it by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cosync_worker.errors import Retry

from .deps import Deps

__all__ = ["deal_lock"]

LOCK_SECONDS = 30.0  # longer than a push or a reverse sync takes; how long a killed holder blocks the deal
WAIT_SECONDS = 15.0  # waited in the handler, so ordinary contention costs no retry attempt


@asynccontextmanager
async def deal_lock(deps: Deps, deal_id: str) -> AsyncIterator[None]:
    key = f"aws:deal-lock:{deal_id}"
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.02
    while not await deps.store.claim_key(key, LOCK_SECONDS):
        if time.monotonic() > deadline:
            # Probably a holder that was killed: come back once its lock has expired.
            raise Retry(f"deal {deal_id} is being synced by another worker", defer=LOCK_SECONDS / 2)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    try:
        yield
    finally:
        await deps.store.release_key(key)
