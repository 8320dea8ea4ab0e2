"""A test connector loaded through ``plugin_modules`` (in this process or a ``cosync run`` subprocess): an
event whose value is ``blocked`` waits for the lease ``blocker:held``, which the test takes first and frees
when it chooses, so one message of a batch runs as long as the test says, whatever the machine's speed."""

from __future__ import annotations

from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, hookimpl
from cosync_worker.store import hold_lock

MODULE = __name__
BLOCKED = "blocked"
LEASE = "blocker:held"


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(name="blocker", event_types=("deal.*",))


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    if event.payload.get("propertyValue") == BLOCKED:
        # A bound far past any test's, so only the test's release ends the wait.
        async with hold_lock(context.store, LEASE, ttl_seconds=600, wait_seconds=600):
            pass
