"""The audit surface every connector writes through, and the seed's view of it (``GET /audit-trail/{id}``).

A connector calls :func:`record_audit` for each effect it has on a remote object or on HubSpot; the entry is
filed under the remote object's key ``<system>:<type>:<id>`` (one trail per co-sell record, both sides in it),
and the bare id is remembered as an alias of that key, so ``GET /audit-trail/O123`` finds the trail without the
core knowing whose id ``O123`` is. Who and what caused an entry come from :func:`audit_scope`, which the worker
side sets around the handling of one event (the event type, and the API caller an API job carries in
``payload["actor"]``); how long the handling had taken when the entry was written is its ``syncDurationMs``.

Values only: request bodies, tokens and credentials are never written here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .events import Event
from .store import AuditEntry, Store

__all__ = [
    "ACTOR_KEY",
    "AuditScope",
    "alias_key",
    "audit_key",
    "audit_scope",
    "audit_trigger",
    "current_scope",
    "entry_view",
    "record_audit",
    "source_of",
]

# The payload key an API job carries its caller in (the token's user), so the entry names a person.
ACTOR_KEY = "actor"
_HUBSPOT_FAMILIES = frozenset({"deal", "company", "contact", "webhook"})
_ALIAS_CACHE = 4096


@dataclass(frozen=True, slots=True)
class AuditScope:
    trigger: str
    actor: str
    started: float  # monotonic


_SCOPE: ContextVar[AuditScope | None] = ContextVar("cosync_audit_scope", default=None)
# Aliases this process already wrote: an entry costs one store write, not two, once its object is known.
_aliased: OrderedDict[str, None] = OrderedDict()


def audit_key(system: str, object_type: str, object_id: str) -> str:
    return f"{system}:{object_type}:{object_id}"


def alias_key(object_id: str) -> str:
    return f"audit-alias:{object_id}"


def current_scope() -> AuditScope:
    return _SCOPE.get() or AuditScope("api", "cosync", time.monotonic())


@contextmanager
def audit_trigger(trigger: str) -> Iterator[AuditScope]:
    """Every entry recorded inside names ``trigger`` (an event type) as what caused it, with no caller: for
    work done outside that event (a held edit written later by the drain, ``cosync_worker.write_hold``)."""
    scope = AuditScope(trigger, "cosync", time.monotonic())
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


@contextmanager
def audit_scope(event: Event) -> Iterator[AuditScope]:
    """Every entry recorded inside names ``event`` as its trigger and its ``actor`` (an API caller) as user."""
    actor = event.payload.get(ACTOR_KEY) if isinstance(event.payload, dict) else None
    scope = AuditScope(event.type, str(actor) if actor else "cosync", time.monotonic())
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def source_of(trigger: str) -> str:
    """Where the change came from, as the seed writes it (``HUBSPOT``, ``API``, a cloud's system name...)."""
    family = trigger.split(".", 1)[0]
    if family in _HUBSPOT_FAMILIES:
        return "HUBSPOT"
    return family.upper() or "COSYNC"


async def _remember_alias(store: Store, object_id: str, key: str) -> None:
    if object_id == key or object_id in _aliased:
        return
    await store.put_state(alias_key(object_id), {"key": key})
    _aliased[object_id] = None
    if len(_aliased) > _ALIAS_CACHE:
        _aliased.popitem(last=False)


async def record_audit(
    store: Store,
    *,
    system: str,
    object_type: str,
    object_id: str,
    action: str,
    about: str,
    deal_id: str | None,
    calls: list[str],
    success: bool = True,
    **detail: Any,
) -> int:
    """Append one entry to the trail of ``<system>:<object_type>:<object_id>`` and return its sequence number.

    ``about`` is the system the effect was on (the remote one or ``hubspot``); ``detail`` may hold
    ``changes={field: {old, new}}`` and anything else worth keeping (None values are left out)."""
    scope = current_scope()
    key = audit_key(system, object_type, object_id)
    body: dict[str, Any] = {
        "deal_id": deal_id,
        "trigger": scope.trigger,
        "calls": calls,
        "success": success,
        "duration_ms": int((time.monotonic() - scope.started) * 1000),
    }
    if scope.actor != "cosync":
        body["source"] = "API"  # a person asked through the REST API
    body.update({k: v for k, v in detail.items() if v is not None})
    seq = await store.append_audit(
        AuditEntry(
            object_key=key, system=about, action=action, detail=body, actor=scope.actor, at=time.time()
        )
    )
    await _remember_alias(store, object_id, key)
    return seq


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    """One entry in the seed's shape (seed 002, "Audit Trail API": ``timestamp``, ``action``, ``source``,
    ``user``, ``changes``, ``success``, ``syncDurationMs``, ``apiCalls``, ``metadata``), plus cosync's own
    record as it is stored (``seq``, ``object_key``, ``system``, ``actor``, ``at``, ``detail``). ``action`` is
    cosync's name of the effect (``update_opportunity``). Entries written before these fields existed read as
    successful, of unknown duration."""
    detail = dict(entry.detail)
    trigger = str(detail.get("trigger") or "")
    metadata = {"dealId": detail.get("deal_id"), "triggeredBy": trigger or None}
    return {
        "timestamp": _iso(entry.at),
        "action": entry.action,
        "source": str(detail.get("source") or source_of(trigger)),
        "user": entry.actor,
        "changes": detail.get("changes") or {},
        "success": bool(detail.get("success", True)),
        "syncDurationMs": detail.get("duration_ms"),
        "apiCalls": list(detail.get("calls") or []),
        "metadata": metadata,
        "seq": entry.seq,
        "object_key": entry.object_key,
        "system": entry.system,
        "actor": entry.actor,
        "at": entry.at,
        "detail": detail,
    }
