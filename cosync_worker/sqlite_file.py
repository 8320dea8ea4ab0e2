"""What the local queue and the SQLite store share: one connection to a file several processes may use.

WAL mode lets readers run beside the writer, ``BEGIN IMMEDIATE`` serialises read-modify-write across
processes, and ``busy_timeout`` makes a contended writer wait instead of failing. Calls run in a worker
thread, one at a time per object, so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["SqliteFile"]

T = TypeVar("T")
_OPEN_ATTEMPTS = 8  # ~5 s of backoff in all


class SqliteFile:
    """Base of :class:`~cosync_worker.queue.local.LocalQueue` and :class:`~cosync_worker.store.sqlite.SqliteStore`.

    Subclasses set ``_schema`` and ``_unavailable`` (the exception their callers expect) and describe
    themselves with ``_what`` for error messages.
    """

    _schema = ""
    _what = "sqlite file"
    _unavailable: type[Exception] = RuntimeError

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._durable = False

    async def open(self) -> None:
        """Create the file and schema if needed; raises the subclass's unavailable error if it cannot."""

        def connect() -> None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(self._schema)
            except BaseException:
                conn.close()
                raise
            self._conn = conn

        # Two processes opening a brand-new file race to switch it to WAL; SQLite answers the loser "database
        # is locked" at once, without waiting on busy_timeout. The race is over in milliseconds: try again.
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                await self._call(connect)
                return
            except self._unavailable as exc:
                if "locked" not in str(exc) or attempt == _OPEN_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.02 * 2**attempt)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._call(close)

    async def ping(self) -> None:
        await self._call(lambda: self._db().execute("SELECT 1").fetchall())

    async def _call(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn()

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            raise self._unavailable(f"{self._what} {self.path}: {exc}") from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self._unavailable(f"{self._what} {self.path} is not open")
        return self._conn

    def _tx(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = False) -> T:
        """Run ``fn`` in one write transaction; ``durable`` syncs the commit to disk (``synchronous=FULL``)."""
        db = self._db()
        if durable != self._durable:
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._durable = durable
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result
