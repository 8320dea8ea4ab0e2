"""A loop's lookback: ``since`` is handed that much before the bookmark, and the bookmark only moves forward."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cosync_worker.connector.cursor import Run, run_loop
from cosync_worker.events.parsers import schedule_tick
from cosync_worker.store.sqlite import SqliteStore

T0 = datetime.fromisoformat("2030-01-01T00:00:00+00:00")


async def test_lookback_re_reads_a_window_before_the_bookmark_which_never_moves_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    seen: list[datetime | None] = []

    async def loop(run: Run) -> datetime:
        seen.append(run.since)
        return run.since or run.signpost  # nothing newer than the re-read window

    try:
        await store.set_cursor("c", T0.isoformat())
        event = schedule_tick("l", 1)
        await run_loop(store, "l", "c", loop, event, T0 + timedelta(hours=1), timedelta(seconds=120))
        assert seen == [T0 - timedelta(seconds=120)]
        assert await store.get_cursor("c") == T0.isoformat()  # returning since-120 s did not move it back
    finally:
        await store.close()
