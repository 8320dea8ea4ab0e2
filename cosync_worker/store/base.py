"""The ``Store`` protocol: idempotency keys, cursors, last-synced state, rate budgets, audit log.

SQLite is the embedded default; a DynamoDB implementation follows the same contract, so callers never
know which one they hold. Every method is atomic on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["AuditEntry", "ConflictError", "Lease", "Store", "StoreUnavailable", "Versioned"]


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached."""


class ConflictError(RuntimeError):
    """A versioned write lost the race: someone else wrote ``key`` since its ``expected`` version was read."""

    def __init__(self, key: str, expected: int) -> None:
        super().__init__(
            f"state {key!r} was written by someone else since version {expected} was read; read it again"
        )
        self.key = key
        self.expected = expected


@dataclass(frozen=True, slots=True)
class Versioned:
    """A per-object record and the version it was read at; ``version`` 0 means never written (``value`` None)."""

    value: dict[str, Any] | None
    version: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A lock held by ``owner`` until ``expires_at`` (the store's wall clock), unless renewed or released."""

    name: str
    owner: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One effect cosync had on a remote system."""

    object_key: str
    system: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str = "cosync"
    at: float = 0.0
    seq: int = 0


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None:
        """Connect (create the schema or client); call once before anything else. Added so a store from
        :func:`~cosync_worker.store.factory.create_store` can be opened without knowing its backend."""
        ...

    async def claim_key(self, key: str, ttl_seconds: float) -> bool:
        """Record ``key`` as seen; True if it was new (or expired), False if it already exists."""
        ...

    async def has_key(self, key: str) -> bool:
        """Whether ``key`` is recorded and not expired."""
        ...

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are recorded and not expired (one round trip for a whole batch)."""
        ...

    async def record_keys(self, keys: Sequence[str], ttl_seconds: float) -> None:
        """Record ``keys`` as seen (overwriting expiry), in one round trip."""
        ...

    async def release_key(self, key: str) -> None:
        """Forget ``key`` (work claimed under it failed and must run again)."""
        ...

    async def get_cursor(self, name: str) -> str | None:
        """The bookmark of a sync loop, or None before its first successful run."""
        ...

    async def set_cursor(self, name: str, value: str) -> None:
        """Advance a sync loop's bookmark."""
        ...

    async def get_state(self, object_key: str) -> dict[str, Any] | None:
        """The last state cosync synced for a remote object."""
        ...

    async def put_state(self, object_key: str, state: dict[str, Any]) -> None:
        """Replace the last synced state of a remote object."""
        ...

    async def read_versioned(self, key: str) -> Versioned:
        """A per-object record and its version (``Versioned(None, 0)`` if never written), read consistently."""
        ...

    async def write_versioned(self, key: str, value: dict[str, Any], expected_version: int) -> int:
        """Replace the record if its version is still ``expected_version`` (0: it must not exist yet); returns
        the new version. Raises :class:`ConflictError` if another writer got there first."""
        ...

    async def index_add(self, index: str, member: str, value: dict[str, Any]) -> None:
        """Add ``member`` (or replace its value) to the listing ``index``. Each member is its own row/item,
        so writers of different members never contend on one document."""
        ...

    async def index_remove(self, index: str, member: str) -> None:
        """Take ``member`` out of ``index`` (nothing happens if it is not there)."""
        ...

    async def index_members(self, index: str, limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` members of ``index`` with their values, in member order, read consistently."""
        ...

    async def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        """Take the lock ``name`` for ``owner`` for ``ttl_seconds``; None if someone else holds it unexpired.
        Acquiring a lease the same owner already holds extends it."""
        ...

    async def renew_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        """Extend ``owner``'s unexpired lease to ``ttl_seconds`` from now; None if it expired or was taken."""
        ...

    async def release_lease(self, name: str, owner: str) -> bool:
        """Free the lock if ``owner`` holds it; False (and nothing changed) if someone else does."""
        ...

    async def take_tokens(
        self, budget: str, rate_per_second: float, capacity: float, tokens: float = 1.0
    ) -> float:
        """Draw ``tokens`` from a shared token bucket; 0.0 if taken, else seconds to wait before retrying.

        The bucket is shared by every process using the same store, and the draw is atomic.
        """
        ...

    async def append_audit(self, entry: AuditEntry) -> int:
        """Append to the audit log; returns the entry's sequence number."""
        ...

    async def audit_trail(
        self, object_key: str, limit: int = 100, *, after_seq: int = 0, since: float | None = None
    ) -> list[AuditEntry]:
        """Audit entries of one object, oldest first: those numbered above ``after_seq`` (a page's last
        ``seq``, so a trail of any length is read page by page) and written at or after ``since``. Entries
        older than the store's audit retention are never returned, even before they are deleted."""
        ...

    async def audit_count(self, object_key: str, since: float | None = None) -> int:
        """How many entries ``audit_trail`` would return for ``object_key`` and ``since`` without a limit."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` if the backend cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
