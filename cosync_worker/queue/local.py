"""The embedded default queue: durable, SQLite-backed, with SQS FIFO semantics.

* ``send`` commits all messages of a call in one transaction (the relay answers HubSpot only after it).
* ``receive`` claims a batch in one transaction. Within a group a message is never handed out while an
  earlier one of the same group is in flight, so one object's events run in order even with several
  consumers (threads, tasks or processes sharing the file).
* A claimed message that is neither acked nor released reappears when its visibility expires (a crashed
  worker loses nothing); after ``max_receives`` receives it is dead-lettered, like an SQS redrive policy.

Several processes may share one file: WAL mode lets readers run beside the writer, ``BEGIN IMMEDIATE``
serialises claims, and ``busy_timeout`` makes a contended writer wait instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ..logs import get_logger
from ..sqlite_file import SqliteFile
from .base import DeadLetter, Message, QueueUnavailable

__all__ = ["LocalQueue"]

T = TypeVar("T")

log = get_logger("cosync.queue")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    grp TEXT,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_group ON messages (grp, seq);
CREATE TABLE IF NOT EXISTS dedupe (id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    grp TEXT,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""

# How often an idle receive looks whether the file was written (``_until_written``): a stat call, no query.
WATCH_SECONDS = 0.005
# ... for this long after it last got a message (traffic tends to come in runs); quiet longer, it just sleeps.
WATCH_ACTIVE_SECONDS = 10.0

# Candidates in arrival order whose group has no earlier message in flight.
_CLAIMABLE = """
SELECT seq, id, CAST(body AS BLOB), grp, receive_count FROM messages AS m
WHERE m.visible_at <= :now
  AND (m.grp IS NULL OR NOT EXISTS (
        SELECT 1 FROM messages AS e WHERE e.grp = m.grp AND e.seq < m.seq AND e.visible_at > :now))
ORDER BY m.seq LIMIT :limit
"""


class LocalQueue(SqliteFile):
    """See the module docstring. ``open()`` before use; ``close()`` after."""

    _schema = _SCHEMA
    _what = "local queue"
    _unavailable = QueueUnavailable

    def __init__(
        self,
        path: str | Path,
        *,
        visibility_timeout: float = 30.0,
        max_receives: int = 10,
        dedupe_window_seconds: float = 300.0,
        poll_interval: float = 0.05,
        watch_active_seconds: float = WATCH_ACTIVE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(path)
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.dedupe_window = dedupe_window_seconds
        self.poll_interval = poll_interval
        self.clock = clock  # wall-clock seconds; tests drive it
        self._wal = f"{self.path}-wal"  # SQLite's write-ahead log beside the file (WAL mode)
        self._last_received = float("-inf")  # monotonic: when a receive last got messages
        self.watch_active_seconds = watch_active_seconds

    async def open(self) -> None:
        await super().open()
        await self._call(lambda: self._tx(_add_sent_at))

    # -- the protocol -----------------------------------------------------------------------------
    async def send(self, bodies: Sequence[tuple[str, str | None, str | None]]) -> None:
        if not bodies:
            return

        def insert(db: sqlite3.Connection) -> None:
            now = self.clock()
            db.execute("DELETE FROM dedupe WHERE expires_at <= ?", (now,))
            for body, group, dedupe_id in bodies:
                if dedupe_id is not None:
                    cur = db.execute(
                        "INSERT OR IGNORE INTO dedupe (id, expires_at) VALUES (?, ?)",
                        (dedupe_id, now + self.dedupe_window),
                    )
                    if cur.rowcount == 0:
                        continue
                db.execute(
                    "INSERT INTO messages (id, body, grp, visible_at, sent_at) VALUES (?, ?, ?, ?, ?)",
                    (uuid.uuid4().hex, body, group, now, now),
                )

        # A send is what the relay acknowledges to HubSpot, so it is synced to disk (survives a power cut).
        # Claims and acks are not: losing one to a power cut only means a redelivery, which dedupe absorbs,
        # and syncing them would cost two fsyncs per batch on the hot path.
        await self._call(lambda: self._tx(insert, durable=True))

    async def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, stop: asyncio.Event | None = None
    ) -> list[Message]:
        deadline = time.monotonic() + wait_seconds
        while True:
            batch = await self._call(lambda: self._tx(lambda db: self._claim(db, max_messages)))
            if batch:
                self._last_received = time.monotonic()
            if batch or time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return batch
            pause = min(self.poll_interval, max(0.0, deadline - time.monotonic()))
            await self._until_written(pause, stop)

    async def _until_written(self, seconds: float, stop: asyncio.Event | None) -> None:
        """Sleep ``seconds``, or less once the file was written (a send by the relay, in this process or
        another) or ``stop`` is set. Why: a claim is a write transaction, too dear to run every few ms, but a
        message should not wait a whole ``poll_interval`` for it (it is a webhook's latency). The write-ahead
        log's size and modification time change with every commit; looking at them is one ``stat`` call. A
        change it misses (two commits in one tick of the file system's clock, of the same size) costs only the
        rest of the ``poll_interval``; one that is this process's own (an ack) costs one claim that finds
        nothing."""
        until = time.monotonic() + seconds
        if time.monotonic() - self._last_received > self.watch_active_seconds:
            # Quiet for a while: no watching (200 wake-ups a second cost a few % of a core on an idle laptop);
            # the first message after a quiet spell waits at most one poll_interval, as it always did.
            if stop is None:
                await asyncio.sleep(seconds)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), seconds)
            return
        seen = self._written()
        while (left := until - time.monotonic()) > 0:
            # A plain sleep, not a wait on ``stop``: this runs 200 times a second while idle, and a wait_for
            # costs a task each time; a stop is seen within one step.
            await asyncio.sleep(min(WATCH_SECONDS, left))
            if (stop is not None and stop.is_set()) or self._written() != seen:
                return

    def _written(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self._wal)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _claim(self, db: sqlite3.Connection, limit: int) -> list[Message]:
        now = self.clock()
        rows = db.execute(_CLAIMABLE, {"now": now, "limit": limit}).fetchall()
        claimed: list[Message] = []
        for _seq, mid, raw, grp, count in rows:
            if count >= self.max_receives:
                # The redrive policy: received too often without an ack; its group goes on without it.
                self._move_to_dlq(db, mid, f"exceeded max receives ({self.max_receives})", now)
                continue
            try:
                # Read as bytes: a body that is not UTF-8 (written as a blob, or by another writer) would
                # otherwise fail the whole claim, and every later claim with it.
                body = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"undecodable message: body is not UTF-8 text ({exc.reason} at byte {exc.start})"
                log.warning("event_dead_lettered", message_id=mid, reason=reason)
                self._move_to_dlq(db, mid, reason, now)
                continue
            receipt = uuid.uuid4().hex
            db.execute(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, receipt = ? WHERE id = ?",
                (now + self.visibility_timeout, receipt, mid),
            )
            claimed.append(Message(id=mid, body=body, receipt=receipt, receive_count=count + 1, group=grp))
        return claimed

    def _move_to_dlq(
        self, db: sqlite3.Connection, mid: str, reason: str, now: float, body: str | None = None
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO dead_letters (id, body, grp, reason, failed_at) "
            "SELECT id, COALESCE(?, body), grp, ?, ? FROM messages WHERE id = ?",
            (body, reason, now, mid),
        )
        db.execute("DELETE FROM messages WHERE id = ?", (mid,))

    async def ack(self, messages: Sequence[Message]) -> None:
        if not messages:
            return

        def delete(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM messages WHERE id = ? AND receipt = ?", [(m.id, m.receipt) for m in messages]
            )

        await self._call(lambda: self._tx(delete))

    async def nack(self, message: Message, delay_seconds: float = 0.0) -> None:
        await self._set_visibility(message, delay_seconds)

    async def extend(self, message: Message, seconds: float) -> None:
        await self._set_visibility(message, seconds)

    async def extend_many(self, messages: Sequence[Message], seconds: float) -> list[Message]:
        until = self.clock() + seconds

        def update(db: sqlite3.Connection) -> list[Message]:
            lost = []
            for m in messages:
                cur = db.execute(
                    "UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                    (until, m.id, m.receipt),
                )
                if cur.rowcount == 0:
                    lost.append(m)  # acked, or handed out again under a new receipt
            return lost

        lost: list[Message] = await self._call(lambda: self._tx(update))
        return lost

    async def _set_visibility(self, message: Message, seconds: float) -> None:
        def update(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                (self.clock() + seconds, message.id, message.receipt),
            )

        await self._call(lambda: self._tx(update))

    async def dead_letter(self, message: Message, reason: str, *, body: str | None = None) -> None:
        await self._call(
            lambda: self._tx(lambda db: self._move_to_dlq(db, message.id, reason, self.clock(), body))
        )

    async def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        def select() -> list[DeadLetter]:
            rows = self._db().execute(
                "SELECT id, CAST(body AS BLOB), reason, failed_at FROM dead_letters ORDER BY seq LIMIT ?",
                (limit,),
            )
            # A body that is not UTF-8 is shown with its odd bytes escaped; replay moves the stored bytes.
            return [
                DeadLetter(
                    id=r[0], body=bytes(r[1]).decode("utf-8", "backslashreplace"), reason=r[2], failed_at=r[3]
                )
                for r in rows
            ]

        return await self._call(select)

    async def replay_dead_letters(self, ids: Sequence[str] | None = None) -> int:
        def replay(db: sqlite3.Connection) -> int:
            where, args = (
                ("", ()) if ids is None else (f" WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))
            )
            rows = db.execute(f"SELECT id, body, grp FROM dead_letters{where} ORDER BY seq", args).fetchall()
            now = self.clock()
            for mid, body, grp in rows:
                db.execute(
                    "INSERT INTO messages (id, body, grp, visible_at, sent_at) VALUES (?, ?, ?, ?, ?)",
                    (uuid.uuid4().hex, body, grp, now, now),
                )
                db.execute("DELETE FROM dead_letters WHERE id = ?", (mid,))
            return len(rows)

        if ids is not None and not ids:
            return 0
        return await self._call(lambda: self._tx(replay))

    async def depth(self) -> int:
        def count() -> int:
            row = self._db().execute("SELECT COUNT(*) FROM messages WHERE visible_at <= ?", (self.clock(),))
            return int(row.fetchone()[0])

        return await self._call(count)

    async def oldest_age(self) -> float | None:
        def oldest() -> float | None:
            # In flight or waiting, as SQS's ApproximateAgeOfOldestMessage counts: a message held for
            # hours by a stuck worker is the one an operator needs to see.
            row = self._db().execute("SELECT sent_at FROM messages ORDER BY seq LIMIT 1").fetchone()
            return None if row is None or row[0] is None else max(0.0, self.clock() - float(row[0]))

        return await self._call(oldest)


def _add_sent_at(db: sqlite3.Connection) -> None:
    """A queue file from before ``sent_at``: the column is added (in a write transaction, so two processes
    opening it at once do not both add it); its earlier messages have no known age."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    if "sent_at" not in columns:
        db.execute("ALTER TABLE messages ADD COLUMN sent_at REAL")
