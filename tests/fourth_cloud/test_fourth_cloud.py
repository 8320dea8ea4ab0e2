"""A fourth cloud is a new package, not an edit of the core: the test-only plugin :mod:`.acme` registers an
emulator (started by the sandbox stack, its URL in the connection info and the written config, its events fed
onto the worker's queue), notice kinds (standard and its own, through the real worker) and its part in the demo.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from cosync_worker.config import ConfigError, Settings
from cosync_worker.demo.runner import demo_clouds
from cosync_worker.demo.script import book
from cosync_worker.hooks import PluginManager
from cosync_worker.notify import Notice, NoticeError
from cosync_worker.runtime import open_queue
from cosync_worker.sandbox import SandboxStack
from cosync_worker.sandbox.hubspot import HubSpotEmulator

from ..notify.conftest import by_deal, create_deals, make_settings, running, wait_until
from ..notify.notice_connector import notice_event

ACME = "tests.fourth_cloud.acme"
RIVAL = "tests.fourth_cloud.rival"


def _plugins(*modules: str) -> PluginManager:
    settings = Settings.model_validate({"plugin_modules": list(modules), "load_entry_points": False})
    return PluginManager().load(settings, entry_points=False)


async def test_the_sandbox_starts_what_plugins_register_and_nothing_else(tmp_path: Path) -> None:
    plugins = _plugins(ACME)
    async with SandboxStack(time_scale=5.0, plugins=plugins) as stack:
        info = stack.connection_info()
        # Only HubSpot is the core's: no cloud emulator starts unless a plugin registered it.
        assert set(stack.emulators) == {"hubspot", "acme"}
        assert set(info) == {"hubspot", "acme", "relay"}
        assert info["acme"] == {"base_url": stack.acme.base_url, "scale": 5.0}
        assert stack.config(tmp_path, plugins=plugins)["connectors"] == {
            "acme": {"base_url": stack.acme.base_url}
        }
        queue = await open_queue(Settings.model_validate({"queue": {"path": str(tmp_path / "q.db")}}).queue)
        try:
            stack.connect_queue(queue)
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{info['acme']['base_url']}/_sandbox/events", json={"id": "e1"}) as r:
                    assert r.status == 200
            [message] = await queue.receive(wait_seconds=5)
            assert json.loads(message.body) == {"id": "e1"} and message.group == "acme:e1"
        finally:
            await queue.close()
        with pytest.raises(AttributeError, match="no attribute or started emulator 'partnercentral'"):
            stack.partnercentral  # noqa: B018


async def test_two_plugins_claiming_one_emulator_name_are_refused() -> None:
    with pytest.raises(ValueError, match="emulator 'acme' is registered twice, differently"):
        await SandboxStack(plugins=_plugins(ACME, RIVAL)).start()


async def test_a_fourth_clouds_notices_reach_the_rep_through_the_worker(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    emu = hubspot_emulator
    opened, won = await create_deals(emu, 2)
    settings = make_settings(tmp_path, emu, modules=[ACME])
    async with running(settings) as (rt, notifier):
        await rt.context.enqueue(
            [
                notice_event("a1", "acme.new_opportunity", opened, "A1"),
                notice_event("a2", "acme.deal_won", won, "W1"),
            ]
        )
        await wait_until(lambda: _tasks_on(emu, opened, won))
        tasks = by_deal(emu, "tasks")
        assert "New Acme Cloud Co-Sell Opportunity" in tasks[opened][0]["properties"]["hs_task_subject"]
        won_task = tasks[won][0]["properties"]
        assert (
            won_task["hs_task_subject"].startswith("🏆")
            and "Acme Cloud Deal Won" in won_task["hs_task_subject"]
        )
        assert won_task["hs_task_priority"] == "HIGH"
        # Acme took only the standard entries it named; and with no AWS plugin loaded the core knows no AWS kind.
        for kind in ("acme.review_status", "aws.new_opportunity"):
            with pytest.raises(NoticeError, match=f"unknown notice kind '{kind}'"):
                await notifier.notify(Notice(kind, opened, "x"))


async def _tasks_on(emu: HubSpotEmulator, *deals: str) -> bool:
    tasks = by_deal(emu, "tasks")
    return all(d in tasks for d in deals)


async def test_clashing_notice_kinds_refuse_to_start_naming_the_kind(
    hubspot_emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, hubspot_emulator, modules=[ACME, RIVAL])
    with pytest.raises(ConfigError, match="notice kind 'acme.new_opportunity' is declared twice"):
        async with running(settings):
            pass


def test_the_demo_book_gives_a_fourth_cloud_its_deal_and_a_share_of_the_every_cloud_deal() -> None:
    clouds = demo_clouds(_plugins("cosync_aws.declarations", ACME))
    assert [c.connector for c in clouds] == ["aws", "acme"]
    deals = {d.name: d.clouds for d in book(clouds)}
    assert deals["Wonka Supply Chain #Acme"] == ("acme",)
    assert deals["Umbrella Cloud Migration #AWS #Acme"] == ("aws", "acme")
    assert deals["Hooli Internal Tools"] == ()
