"""Stakeholders hear of a resolution (seed 002, "Security considerations"): once a connector has applied a
``POST /conflicts/resolve`` or ``POST /rollback`` job, the core tells the deal through the notification service:
a note on the deal saying who did it and what was chosen, and the message on every other enabled channel
(SNS, Slack). No task: nobody has anything left to do.

The connector SDK calls :func:`announce_outcome` after a connector handled an event; only a succeeded job of a
``<connector>.resolve_conflict`` or ``<connector>.rollback`` event is told. Exactly once through the notifier's
ledger: a conflict is told under its own id (it is resolved once; a second ``POST`` is refused with 409), a
rollback under its object and target time, so a retried request or a redelivered event is the same notice.

This module is a default plugin: its notice kinds (``cosync.conflict_resolved``, ``cosync.rollback_done``)
come in through ``cosync_notice_kinds`` like any plugin's, and nothing here names a cloud.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..audit import ACTOR_KEY
from ..events import Event
from ..hooks import Context, NoticeKindSpec, hookimpl
from ..notify import Notice, NotifySettings, Verdict
from ..relay.jobs import get_job
from ..store import Store
from .book import ConflictBook
from .requests import RESOLVE_SUFFIX, ROLLBACK_SUFFIX

__all__ = ["PREFIX", "RESOLVED_KIND", "ROLLED_BACK_KIND", "announce_outcome", "deal_of"]

PREFIX = "cosync"
RESOLVED_KIND = f"{PREFIX}.conflict_resolved"
ROLLED_BACK_KIND = f"{PREFIX}.rollback_done"
_PAGE = 500


async def deal_of(store: Store, key: str) -> str | None:
    """The deal an object's audit trail names last (every entry names its deal)."""
    deal: str | None = None
    after = 0
    while page := await store.audit_trail(key, limit=_PAGE, after_seq=after):
        deal = next((str(e.detail["deal_id"]) for e in reversed(page) if e.detail.get("deal_id")), deal)
        after = page[-1].seq
    return deal


def _text(value: Any) -> str:
    return "(empty)" if value is None or value == "" else str(value)


def _resolved(name: str, n: Notice, s: NotifySettings) -> Verdict:
    facts = n.facts
    lines = [
        f"{facts.get('resolved_by') or 'cosync'} resolved conflict {facts.get('conflict_id')} "
        f"on {facts.get('field')}: {facts.get('resolution')}.",
        f"Value now on both sides: {_text(facts.get('value'))}",
    ]
    if facts.get("remote_id"):
        lines.append(f"Remote object: {facts['remote_id']} ({facts.get('connector')})")
    if facts.get("reason"):
        lines.append(f"Reason: {facts['reason']}")
    return Verdict(
        "MEDIUM",
        "✅",
        "Sync Conflict Resolved",
        tuple(lines),
        ("Nothing to do unless the value is wrong: then correct it in HubSpot",),
        task=False,
    )


def _rolled_back(name: str, n: Notice, s: NotifySettings) -> Verdict:
    facts = n.facts
    restored = facts.get("restored") or []
    lines = [
        f"{facts.get('rolled_back_by') or 'cosync'} rolled back {facts.get('remote_id')} "
        f"({facts.get('connector')}) to its values at {facts.get('target')}.",
        f"Restored: {', '.join(map(str, restored))}"
        if restored
        else "Nothing differed: nothing was written.",
    ]
    return Verdict(
        "MEDIUM",
        "⏪",
        "Co-sell Record Rolled Back",
        tuple(lines),
        ("Check that the deal shows the values you expect",),
        task=False,
    )


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [
        NoticeKindSpec(
            PREFIX,
            "cosync",
            suffixes=(),
            rules={"conflict_resolved": _resolved, "rollback_done": _rolled_back},
        )
    ]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


async def _resolution_notice(store: Store, event: Event) -> Notice | None:
    conflict = await ConflictBook(store).get(str(event.payload.get("conflict_id")))
    if conflict is None or conflict.status != "RESOLVED":
        return None
    facts = {
        "conflict_id": conflict.id,
        "connector": conflict.connector,
        "remote_id": conflict.remote_id,
        "field": conflict.field,
        "resolution": conflict.resolution,
        "value": conflict.resolved_value,
        "reason": conflict.reason,
        "resolved_by": conflict.resolved_by or event.payload.get(ACTOR_KEY),
    }
    return Notice(RESOLVED_KIND, conflict.deal_id, conflict.id, facts)


async def _rollback_notice(store: Store, event: Event, result: Any) -> Notice | None:
    deal_id = await deal_of(store, event.object.key)
    if deal_id is None:
        return None  # an object cosync keeps no deal for: there is no deal to note it on
    target = float(event.payload["target_timestamp"])
    restored = result.get("restored") if isinstance(result, dict) else None
    facts = {
        "connector": event.type.rsplit(".", 1)[0],
        "remote_id": event.object.id,
        "target": _iso(target),
        "restored": list(restored) if isinstance(restored, list) else None,
        "rolled_back_by": event.payload.get(ACTOR_KEY),
    }
    return Notice(ROLLED_BACK_KIND, deal_id, f"{event.object.key}@{target!r}", facts)


async def announce_outcome(context: Context, event: Event) -> None:
    """Tell the deal of a resolution or rollback ``event`` whose job succeeded; anything else is left alone.
    Raises what :meth:`~cosync_worker.notify.Notifier.notify` raises (``Retry`` while another replica tells it)."""
    suffix = event.type.rsplit(".", 1)[-1]
    if suffix not in (RESOLVE_SUFFIX, ROLLBACK_SUFFIX) or not event.payload.get("job_id"):
        return
    notifier = context.services.get("notify")
    if notifier is None:
        return
    job = await get_job(context.store, str(event.payload["job_id"]))
    if job is None or job.status != "succeeded":
        return
    if suffix == RESOLVE_SUFFIX:
        notice = await _resolution_notice(context.store, event)
    else:
        notice = await _rollback_notice(context.store, event, job.result)
    if notice is not None:
        await notifier.notify(notice)
