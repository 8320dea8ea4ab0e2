"""Whether more events wait behind the one being handled, as far as the worker knows.

A connector may take a shortcut that is right only for the newest change of an object (the AWS connector
pushes a rep's edit from its webhook's value instead of reading the deal). With a backlog that shortcut
would write a state the next events already superseded, spending a write of a quota-bound service for
nothing; a read at that point covers them all with one write. The worker sets this around each dispatch:
true when later events of the event's ordering group came in the same receive (the queue keeps a group
closed while one of it is in flight, so they can only be there), or when that receive came back full.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["backlog", "backlog_of"]

_BACKLOG: ContextVar[bool] = ContextVar("cosync_backlog", default=False)


def backlog() -> bool:
    """True when the worker holds later events of the current event's group, or received a full batch."""
    return _BACKLOG.get()


@contextmanager
def backlog_of(waiting: bool) -> Iterator[None]:
    token = _BACKLOG.set(waiting)
    try:
        yield
    finally:
        _BACKLOG.reset(token)
