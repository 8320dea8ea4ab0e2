"""Connector-agnostic conflicts: a :class:`Conflict` record and the :class:`ConflictBook` that keeps them in
the state store (see ``book.py`` for why it works the same on SQLite and DynamoDB)."""

from __future__ import annotations

from .book import (
    CONFLICTS_AUDIT_KEY,
    PENDING_INDEX,
    AlreadyResolved,
    ConflictBook,
    UnknownConflict,
)
from .model import Conflict, ConflictStatus, new_conflict_id
from .objects import collect_conflict_objects, labels_of
from .requests import (
    REMOTE_RESOLUTION,
    RESOLUTIONS,
    Resolution,
    resolve_event,
    resolve_event_type,
    rollback_event,
    rollback_event_type,
)

__all__ = [
    "CONFLICTS_AUDIT_KEY",
    "PENDING_INDEX",
    "REMOTE_RESOLUTION",
    "RESOLUTIONS",
    "AlreadyResolved",
    "Conflict",
    "ConflictBook",
    "ConflictStatus",
    "Resolution",
    "UnknownConflict",
    "collect_conflict_objects",
    "labels_of",
    "new_conflict_id",
    "resolve_event",
    "resolve_event_type",
    "rollback_event",
    "rollback_event_type",
]
