"""A lock held across replicas: a lease in the shared store, renewed while it is held, and a fence for writes.

A lease that is never renewed expires under a holder that is merely slow (a 429 storm, a slow store), and a
second replica then works on the same object while the first one still writes. So :func:`hold_lock` renews the
lease every third of its TTL in the background, and a holder that could not keep it (its renewal refused, or
not confirmed within the TTL) is marked lost. Writes made while a lease is held go through :func:`fence`
first (``FencedStore`` does it for every store write of a connector): a holder that lost its lease stops
there with :class:`LeaseLost`, a ``Busy`` retry, so only the new holder writes. A killed holder stops renewing, so
its lease still frees the lock by itself after one TTL. A holder that is alive but stuck (waiting on something
that never comes) must not keep the lock for ever either: renewals stop ``max_hold_seconds`` after the lease
was taken, so the lock frees one TTL later and the stuck holder is fenced at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..errors import Busy
from .primitives import LockTimeout

if TYPE_CHECKING:
    from .base import Store
    from .budget import Clock, Sleep

__all__ = ["FencedStore", "HeldLease", "LeaseLost", "fence", "hold_lock"]

# The leases the running task holds (innermost last): what ``fence`` checks before a write.
_HELD: ContextVar[tuple[HeldLease, ...]] = ContextVar("cosync_held_leases", default=())


class LeaseLost(Busy):
    """The lease expired or was taken while held: the holder stops before writing, the event runs again."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lock {name!r} was lost while held (expired or taken over); stopped before writing")
        self.name = name


class HeldLease:
    """A lease this process holds: ``name``, ``owner`` and ``expires_at`` as the store last granted them."""

    def __init__(
        self,
        store: Store,
        name: str,
        owner: str,
        ttl: float,
        expires_at: float,
        clock: Clock,
        max_hold: float | None = None,
    ):
        self.store, self.name, self.owner, self.ttl = store, name, owner, ttl
        self.expires_at = expires_at
        self._clock = clock
        self._granted = clock()  # read before the grant: the lease is ours until at least this + ttl
        self._taken = self._granted
        self.max_hold = max_hold
        self.lost = False
        # Set when the holder's ``async with`` ends. A task started inside the body (a shared component's
        # runner, created lazily by whichever caller came first) keeps a copy of the leases held then, and
        # must not be fenced by one its creator has since let go: it works for every later caller.
        self.released = False

    def _overheld(self, now: float) -> bool:
        return self.max_hold is not None and now - self._taken >= self.max_hold

    def _stale(self) -> bool:
        return self._clock() - self._granted >= self.ttl

    async def renew(self) -> bool:
        """Extend the lease by one TTL from now; False (and ``lost``) once it is no longer ours."""
        if self.lost:
            return False
        asked = self._clock()
        if self._overheld(asked):
            return False  # held too long: the lease runs out one TTL after its last renewal
        lease = await self.store.renew_lease(self.name, self.owner, self.ttl)
        if lease is None:
            self.lost = True
            return False
        self._granted, self.expires_at = asked, lease.expires_at
        return True

    async def check(self) -> None:
        """Raise :class:`LeaseLost` unless the lease is certainly still ours for a third of its TTL, long
        enough for the write that follows to land before anyone else could take it. A renewal older than a
        third of the TTL is confirmed with the store first; a lease held past ``max_hold`` is given up here
        (its renewals have stopped, so it may run out during the write)."""
        if self.released:
            return
        if not self.lost and self._overheld(self._clock()):
            self.lost = True
        if not self.lost and self._clock() - self._granted >= self.ttl / 3:
            try:
                await self.renew()
            except Exception:
                if self._stale():  # unconfirmed for a whole TTL: someone else may hold it by now
                    self.lost = True
                else:
                    raise
        if self.lost or self._clock() - self._granted >= self.ttl * 2 / 3:
            self.lost = True
            raise LeaseLost(self.name)

    async def keep(self, sleep: Sleep) -> None:
        """Renew every third of the TTL until cancelled or lost; a failed renewal is tried again next time
        (the lease stays ours for a whole TTL after the last one that succeeded)."""
        while not self.lost:
            await sleep(self.ttl / 3)
            try:
                renewed = await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception:
                renewed = False
            if not renewed and self._stale():
                self.lost = True


async def fence() -> None:
    """Before a write: raise :class:`LeaseLost` if any lease the running task holds is no longer its own."""
    for lease in _HELD.get():
        await lease.check()


@asynccontextmanager
async def hold_lock(
    store: Store,
    name: str,
    ttl_seconds: float,
    *,
    wait_seconds: float,
    owner: str | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    heartbeat_sleep: Sleep | None = None,
    max_hold_seconds: float | None = None,
) -> AsyncIterator[HeldLease]:
    """Hold the lock ``name`` for the body of an ``async with``: every replica on the same store is excluded.

    Waits at most ``wait_seconds`` for a holder to release it (or for its lease to expire: a killed holder
    frees the lock after ``ttl_seconds``), then raises :class:`LockTimeout`. While held, the lease is renewed
    every third of ``ttl_seconds``, so a body may run longer than the TTL; writes in the body are fenced
    (:func:`fence`). The lease is released on exit only if it is still ours. ``clock``/``sleep`` (the wait)
    and ``heartbeat_sleep`` (the renewals; ``sleep`` by default) let tests drive time. Renewals stop
    ``max_hold_seconds`` after the lease was taken (default: six TTLs), so a live but stuck holder frees the
    lock too.
    """
    me = owner or uuid.uuid4().hex
    start = clock()
    pause = 0.01
    while True:
        asked = clock()
        lease = await store.acquire_lease(name, me, ttl_seconds)
        if lease is not None:
            break
        waited = clock() - start
        if waited >= wait_seconds:
            raise LockTimeout(name, wait_seconds)
        await sleep(min(pause * random.uniform(0.5, 1.0), wait_seconds - waited))
        pause = min(pause * 2, 0.5)
    max_hold = max_hold_seconds if max_hold_seconds is not None else 6 * ttl_seconds
    held = HeldLease(store, name, me, ttl_seconds, lease.expires_at, clock, max_hold)
    held._granted = held._taken = asked
    keeper = asyncio.ensure_future(held.keep(heartbeat_sleep or sleep))
    token = _HELD.set((*_HELD.get(), held))
    try:
        yield held
    finally:
        held.released = True
        _HELD.reset(token)
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await store.release_lease(name, me)


# Store methods that change state: each is fenced. Reads, budgets and the lease calls themselves are not.
_WRITES = frozenset(
    {
        "put_state",
        "write_versioned",
        "index_add",
        "index_remove",
        "set_cursor",
        "claim_key",
        "record_keys",
        "release_key",
        "append_audit",
    }
)


class FencedStore:
    """A store whose writes first :func:`fence`: what a connector reaches as ``self.store``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def unfenced(self) -> Store:
        return self._store

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._store, attr)
        if attr not in _WRITES:
            return target
        return _fenced(target)


def _fenced(method: Callable[..., Any]) -> Callable[..., Any]:
    async def write(*args: Any, **kwargs: Any) -> Any:
        await fence()
        return await method(*args, **kwargs)

    return write
