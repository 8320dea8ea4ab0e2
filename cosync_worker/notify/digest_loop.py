"""The daily digest as a sync loop: a default plugin of the core, declared through the same hooks a
connector uses. Each tick (one per day, deduplicated across replicas) sends the previous day's digest."""

from __future__ import annotations

from datetime import timedelta

from ..events import Event
from ..hooks import ConnectorSpec, Context, ScheduleSpec, hookimpl
from ..logs import get_logger

__all__ = ["DIGEST_LOOP"]

DIGEST_LOOP = "notify_digest"
log = get_logger("cosync.notify.digest")


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name="notify",
        schedules=(
            ScheduleSpec(DIGEST_LOOP, interval_seconds=86_400, description="daily digest of LOW items"),
        ),
        description="Sends the notification digest once a day when notify.digest.enabled is true.",
    )


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    if event.type != f"schedule.{DIGEST_LOOP}":
        return
    notifier = context.services.get("notify")
    if notifier is None or not notifier.settings.digest.enabled:
        return
    # A tick at the start of a day sends the day that just ended (items keep arriving until midnight).
    day = (event.received_at - timedelta(seconds=1)).strftime("%Y-%m-%d")
    results = await notifier.send_digest(day)
    log.info("digest_sent", day=day, owners=len(results))
