"""The embedded default state store on SQLite.

Several processes may share the file: WAL mode, ``busy_timeout``, and ``BEGIN IMMEDIATE`` around every
read-modify-write (the token bucket, key claims), so a shared rate budget is drawn atomically by every
process on the file. Blocking sqlite3 calls run in a worker thread (``asyncio.to_thread``) behind one lock per
store, so the event loop never waits on the disk.

Idempotency keys expire by timestamp: an expired key counts as absent at once, and expired rows are purged
lazily (a bounded batch, at most once a minute, inside a claim's transaction). Audit entries older than the
retention are pruned the same way by appends (batches of :data:`_PURGE_BATCH`, at most once a minute) and by
:meth:`SqliteStore.prune_audit`, which deletes batch after batch until none is left; reads leave them out at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..sqlite_file import SqliteFile
from .base import AuditEntry, ConflictError, Lease, StoreUnavailable, Versioned
from .budget import Clock, check_bucket_args, draw
from .primitives import check_index_args, check_lease_args, check_version
from .retention import AUDIT_RETENTION_SECONDS, check_retention

__all__ = ["SqliteStore"]


def _wall_clock() -> float:
    # Looked up at each call, not bound at import: ``cosync_worker.testing.clock.drive_time`` can move it.
    return time.time()


T = TypeVar("T")

_PURGE_EVERY_SECONDS = 60.0
_PURGE_BATCH = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS keys_expiry ON keys (expires_at);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (object_key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS index_members (
    name TEXT NOT NULL, member TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (name, member)
);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key TEXT NOT NULL,
    system TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_object ON audit (object_key, seq);
CREATE INDEX IF NOT EXISTS audit_age ON audit (at);
"""


class SqliteStore(SqliteFile):
    """The ``Store`` protocol on one SQLite file; the default for a single host. ``await open()`` before use."""

    _schema = _SCHEMA
    _what = "state store"
    _unavailable = StoreUnavailable

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        audit_retention_seconds: float = AUDIT_RETENTION_SECONDS,
    ) -> None:
        """``clock`` is the wall clock of expiries, timestamps and buckets (shared by every process on the
        file, hence not monotonic); tests pass one they move instead of sleeping."""
        super().__init__(path)
        check_retention(audit_retention_seconds)
        self.audit_retention_seconds = audit_retention_seconds
        self._clock = clock or _wall_clock
        self._last_purge = 0.0
        self._last_audit_prune = 0.0

    # -- idempotency keys -------------------------------------------------------------------------
    async def claim_key(self, key: str, ttl_seconds: float) -> bool:
        _check_ttl(ttl_seconds)

        def claim(db: sqlite3.Connection) -> bool:
            now = self._clock()
            self._purge_expired(db, now)
            cur = db.execute(
                "INSERT INTO keys (key, expires_at) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at WHERE keys.expires_at <= ?",
                (key, now + ttl_seconds, now),
            )
            return cur.rowcount == 1

        return await self._call(lambda: self._tx(claim))

    async def has_key(self, key: str) -> bool:
        def check() -> bool:
            row = self._db().execute("SELECT expires_at FROM keys WHERE key = ?", (key,)).fetchone()
            return row is not None and row[0] > self._clock()

        return await self._call(check)

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()

        def select() -> set[str]:
            found: set[str] = set()
            now = self._clock()
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                rows = self._db().execute(
                    f"SELECT key FROM keys WHERE expires_at > ? AND key IN ({','.join('?' * len(chunk))})",
                    (now, *chunk),
                )
                found.update(r[0] for r in rows)
            return found

        return await self._call(select)

    def _purge_expired(self, db: sqlite3.Connection, now: float) -> None:
        # Bounded so one claim never pays for a large backlog; the next minute's claim takes the next batch.
        if now - self._last_purge < _PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        db.execute(
            "DELETE FROM keys WHERE rowid IN (SELECT rowid FROM keys WHERE expires_at <= ? LIMIT ?)",
            (now, _PURGE_BATCH),
        )

    async def record_keys(self, keys: Sequence[str], ttl_seconds: float) -> None:
        _check_ttl(ttl_seconds)
        if not keys:
            return
        expires = self._clock() + ttl_seconds

        def insert(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO keys (key, expires_at) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at",
                [(k, expires) for k in keys],
            )

        await self._call(lambda: self._tx(insert))

    async def release_key(self, key: str) -> None:
        def delete() -> None:
            self._db().execute("DELETE FROM keys WHERE key = ?", (key,))

        await self._call(delete)

    # -- cursors and state ------------------------------------------------------------------------
    async def get_cursor(self, name: str) -> str | None:
        def get() -> str | None:
            row = self._db().execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

        return await self._call(get)

    async def set_cursor(self, name: str, value: str) -> None:
        def put() -> None:
            self._db().execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, value, self._clock()),
            )

        await self._call(put)

    async def get_state(self, object_key: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            row = self._db().execute("SELECT data FROM state WHERE object_key = ?", (object_key,)).fetchone()
            return None if row is None else dict(json.loads(row[0]))

        return await self._call(get)

    async def put_state(self, object_key: str, state: dict[str, Any]) -> None:
        data = json.dumps(state, default=str)

        def put() -> None:
            self._db().execute(
                "INSERT INTO state (object_key, data, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(object_key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (object_key, data, self._clock()),
            )

        await self._call(put)

    # -- versioned records and leases --------------------------------------------------------------
    async def read_versioned(self, key: str) -> Versioned:
        def get() -> Versioned:
            row = self._db().execute("SELECT data, version FROM records WHERE key = ?", (key,)).fetchone()
            return Versioned(None, 0) if row is None else Versioned(dict(json.loads(row[0])), int(row[1]))

        return await self._call(get)

    async def write_versioned(self, key: str, value: dict[str, Any], expected_version: int) -> int:
        check_version(key, expected_version)
        data = json.dumps(value, default=str)

        def put(db: sqlite3.Connection) -> int:
            if expected_version == 0:
                cur = db.execute(
                    "INSERT INTO records (key, data, version, updated_at) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT(key) DO NOTHING",
                    (key, data, self._clock()),
                )
            else:
                cur = db.execute(
                    "UPDATE records SET data = ?, version = version + 1, updated_at = ? "
                    "WHERE key = ? AND version = ?",
                    (data, self._clock(), key, expected_version),
                )
            if cur.rowcount != 1:
                raise ConflictError(key, expected_version)
            return expected_version + 1

        return await self._call(lambda: self._tx(put))

    async def index_add(self, index: str, member: str, value: dict[str, Any]) -> None:
        check_index_args(index, member)
        data = json.dumps(value, default=str)

        def put() -> None:
            self._db().execute(
                "INSERT INTO index_members (name, member, data) VALUES (?, ?, ?) "
                "ON CONFLICT(name, member) DO UPDATE SET data = excluded.data",
                (index, member, data),
            )

        await self._call(put)

    async def index_remove(self, index: str, member: str) -> None:
        check_index_args(index, member)

        def delete() -> None:
            self._db().execute("DELETE FROM index_members WHERE name = ? AND member = ?", (index, member))

        await self._call(delete)

    async def index_members(self, index: str, limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
        def select() -> list[tuple[str, dict[str, Any]]]:
            rows = self._db().execute(
                "SELECT member, data FROM index_members WHERE name = ? ORDER BY member LIMIT ?",
                (index, max(0, limit)),
            )
            return [(str(r[0]), dict(json.loads(r[1]))) for r in rows]

        return await self._call(select)

    async def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        check_lease_args(name, owner, ttl_seconds)

        def take(db: sqlite3.Connection) -> Lease | None:
            now = self._clock()
            cur = db.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE leases.expires_at <= ? OR leases.owner = excluded.owner",
                (name, owner, now + ttl_seconds, now),
            )
            return Lease(name, owner, now + ttl_seconds) if cur.rowcount == 1 else None

        return await self._call(lambda: self._tx(take))

    async def renew_lease(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        check_lease_args(name, owner, ttl_seconds)

        def renew(db: sqlite3.Connection) -> Lease | None:
            now = self._clock()
            cur = db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ? AND expires_at > ?",
                (now + ttl_seconds, name, owner, now),
            )
            return Lease(name, owner, now + ttl_seconds) if cur.rowcount == 1 else None

        return await self._call(lambda: self._tx(renew))

    async def release_lease(self, name: str, owner: str) -> bool:
        def release() -> bool:
            cur = self._db().execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
            return cur.rowcount == 1

        return await self._call(release)

    # -- shared rate budgets ----------------------------------------------------------------------
    async def take_tokens(
        self, budget: str, rate_per_second: float, capacity: float, tokens: float = 1.0
    ) -> float:
        check_bucket_args(budget, rate_per_second, capacity, tokens)

        # Wall-clock time, not monotonic: the bucket's updated_at is compared across processes.
        def take(db: sqlite3.Connection) -> float:
            now = self._clock()
            row = db.execute("SELECT tokens, updated_at FROM buckets WHERE name = ?", (budget,)).fetchone()
            level, wait = draw(
                None if row is None else row[0],
                0.0 if row is None else row[1],
                now,
                rate_per_second,
                capacity,
                tokens,
            )
            if wait > 0:
                return wait  # nothing taken, nothing to write
            db.execute(
                "INSERT INTO buckets (name, tokens, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
                (budget, level, now),
            )
            return wait

        return await self._call(lambda: self._tx(take))

    # -- audit log --------------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> int:
        """Sequence numbers here are global to the file (AUTOINCREMENT), so increasing within every trail."""

        def append(db: sqlite3.Connection) -> int:
            now = self._clock()
            if now - self._last_audit_prune >= _PURGE_EVERY_SECONDS:
                self._last_audit_prune = now
                self._prune_batch(db, now)
            cur = db.execute(
                "INSERT INTO audit (object_key, system, action, detail, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.object_key,
                    entry.system,
                    entry.action,
                    json.dumps(entry.detail, default=str),
                    entry.actor,
                    entry.at or now,
                ),
            )
            return int(cur.lastrowid or 0)

        return await self._call(lambda: self._tx(append))

    def _prune_batch(self, db: sqlite3.Connection, now: float) -> int:
        cur = db.execute(
            "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? ORDER BY seq LIMIT ?)",
            (now - self.audit_retention_seconds, _PURGE_BATCH),
        )
        return cur.rowcount

    async def prune_audit(self) -> int:
        """Delete every audit entry older than the retention, one bounded transaction at a time (so appends
        from other processes interleave); returns how many went."""
        total = 0
        while True:
            gone = await self._call(lambda: self._tx(lambda db: self._prune_batch(db, self._clock())))
            total += gone
            if gone < _PURGE_BATCH:
                return total

    def _audit_floor(self, since: float | None) -> float:
        return max(since or float("-inf"), self._clock() - self.audit_retention_seconds)

    async def audit_trail(
        self, object_key: str, limit: int = 100, *, after_seq: int = 0, since: float | None = None
    ) -> list[AuditEntry]:
        def select() -> list[AuditEntry]:
            rows = self._db().execute(
                "SELECT seq, object_key, system, action, detail, actor, at FROM audit "
                "WHERE object_key = ? AND seq > ? AND at >= ? ORDER BY seq LIMIT ?",
                (object_key, after_seq, self._audit_floor(since), limit),
            )
            return [
                AuditEntry(
                    object_key=r[1],
                    system=r[2],
                    action=r[3],
                    detail=json.loads(r[4]),
                    actor=r[5],
                    at=r[6],
                    seq=r[0],
                )
                for r in rows
            ]

        return await self._call(select)

    async def audit_count(self, object_key: str, since: float | None = None) -> int:
        def count() -> int:
            row = (
                self._db()
                .execute(
                    "SELECT COUNT(*) FROM audit WHERE object_key = ? AND at >= ?",
                    (object_key, self._audit_floor(since)),
                )
                .fetchone()
            )
            return int(row[0])

        return await self._call(count)


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"idempotency key ttl_seconds must be positive, got {ttl_seconds}")
