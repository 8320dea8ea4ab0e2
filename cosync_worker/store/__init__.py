"""State store behind one protocol: SQLite (embedded default) and, for replicas, DynamoDB."""

from .base import AuditEntry, Store, StoreUnavailable
from .budget import acquire
from .factory import create_store

__all__ = ["AuditEntry", "Store", "StoreUnavailable", "acquire", "create_store"]
