"""Connector-agnostic conflicts: a :class:`Conflict` record and the :class:`ConflictBook` that keeps them in
the state store (see ``book.py`` for why it works the same on SQLite and DynamoDB)."""

from __future__ import annotations

from .book import (
    CONFLICTS_AUDIT_KEY,
    AlreadyResolved,
    ConflictBook,
    UnknownConflict,
)
from .model import Conflict, ConflictStatus, new_conflict_id
from .requests import (
    RESOLUTIONS,
    Resolution,
    resolve_event,
    resolve_event_type,
    rollback_event,
    rollback_event_type,
)

__all__ = [
    "CONFLICTS_AUDIT_KEY",
    "RESOLUTIONS",
    "AlreadyResolved",
    "Conflict",
    "ConflictBook",
    "ConflictStatus",
    "Resolution",
    "UnknownConflict",
    "new_conflict_id",
    "resolve_event",
    "resolve_event_type",
    "rollback_event",
    "rollback_event_type",
]
