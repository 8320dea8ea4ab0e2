"""What connectors build on instead of their own plumbing: a retried compare-and-set update of per-object
state and the argument checks both stores share. The lock that holds across replicas is in ``lease.py``.

Both stores implement the raw operations (``read_versioned``/``write_versioned``, ``acquire_lease``/
``renew_lease``/``release_lease``); this module and ``lease.py`` hold the loops around them, written once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import ConflictError, Versioned

if TYPE_CHECKING:
    from .base import Store

__all__ = [
    "LockTimeout",
    "check_index_args",
    "check_lease_args",
    "check_version",
    "update_versioned",
]

State = dict[str, Any]


class LockTimeout(TimeoutError):
    """The lock stayed held by someone else for longer than the caller was willing to wait."""

    def __init__(self, name: str, waited: float) -> None:
        super().__init__(f"lock {name!r} is held by another worker; gave up after {waited:g} s")
        self.name = name
        self.waited = waited


def check_version(key: str, expected_version: int) -> None:
    if not key:
        raise ValueError("state key must not be empty")
    if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
        raise ValueError(f"state {key!r}: expected_version must be an int >= 0, got {expected_version!r}")


def check_index_args(index: str, member: str) -> None:
    if not index:
        raise ValueError("index name must not be empty")
    if not member:
        raise ValueError(f"index {index!r}: member must not be empty")


def check_lease_args(name: str, owner: str, ttl_seconds: float) -> None:
    if not name:
        raise ValueError("lock name must not be empty")
    if not owner:
        raise ValueError(f"lock {name!r}: owner must not be empty")
    if not ttl_seconds > 0:
        raise ValueError(f"lock {name!r}: ttl_seconds must be positive, got {ttl_seconds}")


async def update_versioned(
    store: Store, key: str, fn: Callable[[State | None], State], *, retries: int = 20
) -> Versioned:
    """Read ``key``, write ``fn(value)`` if nobody wrote in between, else read again and re-apply ``fn``.

    ``fn`` must be pure (it may run several times). Returns what was written, with its version. Raises
    :class:`ConflictError` after ``retries`` lost races in a row.
    """
    for attempt in range(retries + 1):
        current = await store.read_versioned(key)
        new = fn(current.value)
        try:
            version = await store.write_versioned(key, new, current.version)
        except ConflictError:
            if attempt == retries:
                raise
            # Full jitter: writers that lost the same race should not meet again in the next millisecond.
            await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
            continue
        return Versioned(new, version)
    raise AssertionError("unreachable")
