"""The connector SDK: declare handlers, state, locks, cursors and clients; the framework runs them.

See ``docs/writing-a-connector.md`` and ``plugins/cosync_example`` for a whole connector.
"""

from ..errors import PermanentError, Retry
from ..events import Event
from ..hooks import Context, PropertySpec, request_body, request_query
from ..relay.jobs import create_job, update_job
from ..remote_budget import request_budget
from ..remote_client import Answer, BearerTokens, RemoteClient, RetryPolicy, StaticToken
from ..store import ConflictError, HeldLease, Lease, LeaseLost, LockTimeout
from .base import Connector
from .cursor import Run
from .deals import DealConnector, associated, has_tag
from .declarations import client, every, on, route
from .state import BoundState, ObjectState, Snapshot

__all__ = [
    "Answer",
    "BearerTokens",
    "BoundState",
    "ConflictError",
    "Connector",
    "Context",
    "DealConnector",
    "Event",
    "HeldLease",
    "Lease",
    "LeaseLost",
    "LockTimeout",
    "ObjectState",
    "PermanentError",
    "PropertySpec",
    "RemoteClient",
    "Retry",
    "RetryPolicy",
    "Run",
    "Snapshot",
    "StaticToken",
    "associated",
    "client",
    "create_job",
    "every",
    "has_tag",
    "on",
    "request_body",
    "request_budget",
    "request_query",
    "route",
    "update_job",
]
