"""Cursors of scheduled loops, kept by the framework (the Singer SDK's bookmarks and signpost).

The loop receives the stored bookmark as ``since`` and the run's start as ``signpost``; it returns the newest
replication value it saw. Only when it succeeds is the bookmark advanced, to ``min(newest, signpost)``: a
record that changed while the run was going may not have been read whole, so the next run reads it again.
A bookmark never moves backwards. A ``lookback`` hands the loop ``since`` that much before the bookmark, for
remote systems whose update times may lag their writes (clock skew, eventually consistent listings).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import PermanentError
from ..events import Event
from ..store import Store

__all__ = ["Run", "run_loop"]


@dataclass(frozen=True)
class Run:
    """One tick of a scheduled loop: its event, the stored bookmark (None before the first success or for a
    loop without cursor) and the signpost (when the run started)."""

    event: Event
    since: datetime | None
    signpost: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def run_loop(
    store: Store,
    loop: str,
    cursor: str | None,
    handler: Callable[[Run], Awaitable[datetime | None]],
    event: Event,
    signpost: datetime,
    lookback: timedelta = timedelta(0),
) -> None:
    bookmark = None
    if cursor is not None:
        stored = await store.get_cursor(cursor)
        try:
            bookmark = None if stored is None else _aware(datetime.fromisoformat(stored))
        except ValueError:
            raise PermanentError(f"loop {loop}: stored cursor {cursor!r} is not an ISO timestamp") from None
    signpost = _aware(signpost)
    since = None if bookmark is None else bookmark - lookback
    newest = await handler(Run(event, since, signpost))
    if cursor is None or newest is None:
        return
    if not isinstance(newest, datetime):
        raise TypeError(
            f"loop {loop} returned {type(newest).__name__}: return the newest datetime seen, or None"
        )
    value = min(_aware(newest), signpost)
    if bookmark is None or value > bookmark:
        await store.set_cursor(cursor, value.isoformat())
