"""State store behind one protocol: SQLite (embedded default) and, for replicas, DynamoDB."""

from .base import AuditEntry, ConflictError, Lease, Store, StoreUnavailable, Versioned
from .budget import acquire
from .factory import create_store
from .lease import FencedStore, HeldLease, LeaseLost, fence, hold_lock
from .primitives import LockTimeout, update_versioned

__all__ = [
    "AuditEntry",
    "ConflictError",
    "FencedStore",
    "HeldLease",
    "Lease",
    "LeaseLost",
    "LockTimeout",
    "Store",
    "StoreUnavailable",
    "Versioned",
    "acquire",
    "create_store",
    "fence",
    "hold_lock",
    "update_versioned",
]
