"""A real Runtime (worker + SQLite store + local queue) wired to the HubSpot emulator, with the notifier
registered as ``context.services["notify"]`` exactly as the runtime will do it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cosync_worker.config import Settings
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.notify import Notifier
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.hubspot import HubSpotEmulator

OWNER = "70000001"
CLOUD_DECLARATIONS = ("cosync_aws.declarations", "cosync_microsoft.declarations", "cosync_gcp.declarations")


def make_settings(
    tmp_path: Path,
    emu: HubSpotEmulator,
    notify: dict[str, Any] | None = None,
    modules: Sequence[str] = CLOUD_DECLARATIONS,
) -> Settings:
    """``modules``: the plugins whose notice kinds the catalogue knows (the three clouds' by default)."""
    return Settings.model_validate(
        {
            "queue": {"kind": "local", "path": str(tmp_path / "queue.db"), "visibility_timeout": 5},
            "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
            "worker": {"concurrency": 8, "wait_seconds": 0.2, "drain_seconds": 5}
            | {"retry": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2}},
            "relay": {"enabled": False},
            "hubspot": {"base_url": emu.base_url, "access_token": emu.access_token},
            # The clouds' notice kinds come from their connectors' declarations, as in production.
            "plugin_modules": ["tests.notify.notice_connector", *modules],
            "load_entry_points": False,
            "notify": {"retry_delay_seconds": 0.01, "delivery_attempts": 2, **(notify or {})},
        }
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, Notifier]]:
    async with Runtime(settings, entry_points=False) as rt:
        notifier = rt.context.services["notify"]  # the one the runtime built from settings
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            yield rt, notifier
        finally:
            rt.stop()
            await asyncio.wait_for(task, 30)


async def create_deals(emu: HubSpotEmulator, count: int, owner: str | None = OWNER) -> list[str]:
    """As the rep (user token): deals, with an owner unless ``owner`` is None."""
    async with HubSpotClient(emu.base_url, emu.user_token, budget_name="rep") as rep:
        props: dict[str, Any] = {
            "dealname": "Deal",
            "pipeline": "default",
            "dealstage": "appointmentscheduled",
        }
        if owner:
            props["hubspot_owner_id"] = owner
        made = await rep.batch_create(
            "deals", [{"properties": dict(props, dealname=f"Deal {i}")} for i in range(count)]
        )
        return [str(r["id"]) for r in made]


def by_deal(emu: HubSpotEmulator, object_type: str) -> dict[str, list[dict[str, Any]]]:
    """Records of ``object_type`` grouped by the deal they are associated with (emulator state)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for record_id, record in emu.objects(object_type).items():
        links = emu.portal.links.get((object_type, record_id), {}).get("deals", {})
        for deal in links:
            out.setdefault(deal, []).append(record)
    return out


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")
