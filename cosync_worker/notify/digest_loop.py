"""The daily digest as a sync loop: a default plugin of the core, an SDK connector whose one ``@every`` loop
the framework schedules like any connector's. Each tick (one per day, deduplicated across replicas) sends the
previous day's digest."""

from __future__ import annotations

from datetime import timedelta

from ..connector import Connector, Run, every
from ..logs import get_logger

__all__ = ["DIGEST_LOOP", "DigestLoop", "cosync_plugin"]

DIGEST_LOOP = "notify_digest"
log = get_logger("cosync.notify.digest")


class DigestLoop(Connector):
    name = "notify"
    description = "Sends the notification digest once a day when notify.digest.enabled is true."

    @every(DIGEST_LOOP, 86_400, description="daily digest of LOW items")
    async def send_digest(self, run: Run) -> None:
        notifier = self.notifier
        if notifier is None or not notifier.settings.digest.enabled:
            return
        # A tick at the start of a day sends the day that just ended (items keep arriving until midnight).
        day = (run.event.received_at - timedelta(seconds=1)).strftime("%Y-%m-%d")
        results = await notifier.send_digest(day)
        log.info("digest_sent", day=day, owners=len(results))


cosync_plugin = DigestLoop
