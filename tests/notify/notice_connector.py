"""A test connector loaded through ``plugin_modules``: each ``notice.*`` event carries a notice in its payload;
the connector hands it to the notification service (as the AWS/Google/Microsoft connectors do) and records
the outcome in the audit log, so tests can see that the sync itself succeeded."""

from __future__ import annotations

from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, hookimpl
from cosync_worker.notify import Notice
from cosync_worker.store import AuditEntry

__all__ = ["notice_event"]


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(name="noticer", event_types=("notice.*",))


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    notice = Notice(**event.payload)
    outcome = await context.service("notify").notify(notice)
    await context.store.append_audit(
        AuditEntry(
            object_key=f"deal:{notice.deal_id}", system="noticer", action=outcome, detail={"key": notice.key}
        )
    )


def notice_event(event_id: str, kind: str, deal_id: str, change_key: str, **facts: object) -> Event:
    return Event.model_validate(
        {
            "id": event_id,
            "source": "api",
            "type": f"notice.{kind}",
            "object": {"system": "hubspot", "type": "deal", "id": deal_id},
            "ordering_key": f"deal:{deal_id}",
            "dedupe_key": event_id,
            "payload": {"kind": kind, "deal_id": deal_id, "change_key": change_key, "facts": facts},
        }
    )
