"""State store behind one protocol: SQLite (embedded default) and, for replicas, DynamoDB."""

from .base import AuditEntry, Store, StoreUnavailable

__all__ = ["AuditEntry", "Store", "StoreUnavailable"]
