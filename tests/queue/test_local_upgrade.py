"""A queue file written before the local queue recorded when each message was sent opens, keeps its messages
(of no known age), and ages what is sent after."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cosync_worker.queue.local import LocalQueue

# The messages table as it was before ``sent_at``.
_BEFORE = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    grp TEXT,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
INSERT INTO messages (id, body, grp, visible_at) VALUES ('old', 'from before', 'g', 0);
"""


async def test_a_file_from_before_sent_at_opens_and_ages_new_messages(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as db:
        db.executescript(_BEFORE)
    now = [1_000_000.0]
    queue = LocalQueue(path, clock=lambda: now[0])
    await queue.open()
    try:
        again = LocalQueue(path)  # opening it once more (another process) adds nothing twice
        await again.open()
        await again.close()
        assert await queue.oldest_age() is None  # the old message's send time is not known
        await queue.send([("new", "h", "n")])
        [old, new] = await queue.receive(10, wait_seconds=0)
        assert (old.body, new.body) == ("from before", "new")
        await queue.ack([old])
        now[0] += 5
        assert await queue.oldest_age() == 5
    finally:
        await queue.close()
