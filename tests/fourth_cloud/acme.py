"""A fourth cloud, Acme, that exists only in this test package: it reaches the sandbox, the notification catalogue
and the demo through the public hooks alone, with no edit of the core. Its hooks are ``async def`` on purpose:
every declaration hook may be."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from cosync_worker.hooks import (
    DemoAction,
    DemoCloudSpec,
    DemoDeal,
    EmulatorSpec,
    NoticeKindSpec,
    hookimpl,
)
from cosync_worker.notify import Verdict
from cosync_worker.sandbox import Emulator

__all__ = ["AcmeEmulator"]


class AcmeEmulator(Emulator):
    """``POST /_sandbox/events`` publishes an event, as Acme's event bus would, to whatever the stack connected."""

    name = "acme"

    def __init__(self, host: str, time_scale: float) -> None:
        super().__init__(host=host)
        self.time_scale = time_scale
        self.queue: Any = None

    def setup_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/_sandbox/events", self._publish)

    async def _publish(self, request: web.Request) -> web.Response:
        event = await request.json()
        if self.queue is None:
            return web.json_response({"message": "no event sink connected"}, status=409)
        await self.queue.send([(json.dumps(event), f"acme:{event['id']}", str(event["id"]))])
        return web.json_response({"published": event["id"]})


def _connect(emulator: Any, queue: Any) -> None:
    emulator.queue = queue


def _won(name: str, notice: Any, settings: Any) -> Verdict:
    return Verdict("HIGH", "🏆", f"{name} Deal Won", (f"{name} closed this deal.",), ("Celebrate",), 6)


async def _nudge(stack: Any, http: Any) -> None:
    async with http.post(f"{stack.acme.base_url}/_sandbox/events", json={"id": "nudge"}) as r:
        r.raise_for_status()


EMULATOR = EmulatorSpec(
    "acme", AcmeEmulator, lambda emu: {"base_url": emu.base_url, "scale": emu.time_scale}, _connect
)
KINDS = NoticeKindSpec("acme", "Acme Cloud", suffixes=("new_opportunity",), rules={"deal_won": _won})
DEMO = DemoCloudSpec(
    connector="acme",
    label="Acme",
    deal_tag="#Acme",
    id_property="acme_deal_id",
    status_property="acme_sync_status",
    deal=DemoDeal("Wonka Supply Chain", "70000", "qualifiedtobuy", {"name": "Wonka"}, {"firstname": "Willy"}),
    incoming=(DemoAction("Acme nudges", _nudge, lands_as="Nudge", result="Acme nudge -> HubSpot deal"),),
)


@hookimpl
async def cosync_emulators() -> list[EmulatorSpec]:
    return [EMULATOR]


@hookimpl
async def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [KINDS]


@hookimpl
async def cosync_demo() -> DemoCloudSpec:
    return DEMO


@hookimpl
def cosync_sandbox_config(sandbox: dict[str, Any]) -> dict[str, Any] | None:
    acme = sandbox.get("acme")
    return {"acme": {"base_url": acme["base_url"]}} if isinstance(acme, dict) else None
