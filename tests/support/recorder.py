"""A test connector loaded through ``plugin_modules``: records each event it handles in the audit log, so
tests (and subprocesses) can check order and exactly-once through the store's public interface."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, ScheduleSpec, hookimpl
from cosync_worker.store import AuditEntry


class RecorderConfig(BaseModel):
    model_config = {"extra": "forbid"}
    sleep_seconds: float = 0.0
    permanent_value: str = "poison"  # propertyValue that raises PermanentError
    retry_value: str = "flaky"  # propertyValue that raises Retry on the first attempt
    slow_value: str = "slow"  # propertyValue that takes slow_seconds
    slow_seconds: float = 0.0


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name="recorder",
        event_types=("deal.*", "contact.*"),
        config_model=RecorderConfig,
        schedules=(ScheduleSpec("recorder_tick", interval_seconds=3600),),
    )


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    cfg: RecorderConfig = context.config("recorder")
    value = str(event.payload.get("propertyValue", ""))
    if value == cfg.permanent_value:
        raise PermanentError(f"property value {value!r} is not acceptable")
    if value == cfg.retry_value and await context.store.claim_key(f"flaky:{event.dedupe_key}", 3600):
        raise Retry("flaky on first attempt", defer=0.05)
    if cfg.sleep_seconds:
        await asyncio.sleep(cfg.sleep_seconds)
    if value == cfg.slow_value and cfg.slow_seconds:
        await asyncio.sleep(cfg.slow_seconds)
    await context.store.append_audit(
        AuditEntry(
            object_key=event.ordering_key, system="recorder", action=event.type, detail={"value": value}
        )
    )
