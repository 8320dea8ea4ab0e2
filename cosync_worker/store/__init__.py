"""State store behind one protocol: SQLite (embedded default) and, for replicas, DynamoDB."""

from .base import AuditEntry, ConflictError, Lease, Store, StoreUnavailable, Versioned
from .budget import acquire
from .factory import create_store
from .primitives import LockTimeout, hold_lock, update_versioned

__all__ = [
    "AuditEntry",
    "ConflictError",
    "Lease",
    "LockTimeout",
    "Store",
    "StoreUnavailable",
    "Versioned",
    "acquire",
    "create_store",
    "hold_lock",
    "update_versioned",
]
