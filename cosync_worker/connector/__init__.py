"""The connector SDK: declare handlers, state, locks, cursors and clients; the framework runs them.

See ``docs/writing-a-connector.md`` and ``plugins/cosync_example`` for a whole connector.
"""

from ..audit import ACTOR_KEY, audit_scope, audit_trigger, current_scope, record_audit
from ..backlog import backlog
from ..errors import PermanentError, Retry
from ..events import Event
from ..hooks import Context, PropertySpec, request_body, request_query
from ..relay.auth import Identity, request_identity
from ..relay.jobs import create_job, update_job
from ..remote_budget import AnswerSpacing, request_budget
from ..remote_client import Answer, BearerTokens, OutcomeUnknown, RemoteClient, RetryPolicy, StaticToken
from ..store import ConflictError, HeldLease, Lease, LeaseLost, LockTimeout
from ..trailing import start_trailing
from ..write_hold import HeldWrites
from ..write_scheduler import WriteScheduler, turn_uncontested
from .base import Connector
from .cursor import Run
from .deals import DealConnector, associated, has_tag
from .declarations import client, every, on, route
from .state import BoundState, ObjectState, Snapshot

__all__ = [
    "ACTOR_KEY",
    "Answer",
    "AnswerSpacing",
    "BearerTokens",
    "BoundState",
    "ConflictError",
    "Connector",
    "Context",
    "DealConnector",
    "Event",
    "HeldLease",
    "HeldWrites",
    "Identity",
    "Lease",
    "LeaseLost",
    "LockTimeout",
    "ObjectState",
    "OutcomeUnknown",
    "PermanentError",
    "PropertySpec",
    "RemoteClient",
    "Retry",
    "RetryPolicy",
    "Run",
    "Snapshot",
    "StaticToken",
    "WriteScheduler",
    "associated",
    "audit_scope",
    "audit_trigger",
    "backlog",
    "client",
    "create_job",
    "current_scope",
    "every",
    "has_tag",
    "on",
    "record_audit",
    "request_body",
    "request_budget",
    "request_identity",
    "request_query",
    "route",
    "start_trailing",
    "turn_uncontested",
    "update_job",
]
