"""The connector SDK through the queue: cursors kept by the framework (advanced only on success, capped by the
signpost, never backwards), clients opened in order and closed in reverse even on failure, an idle
connector, and async declaration hooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cosync_worker.config import Settings
from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.events.parsers import schedule_tick
from cosync_worker.runtime import Runtime
from cosync_worker.testing.waiting import wait_until

from . import sample

pytestmark = pytest.mark.timeout(90)
CURSOR = "sample:sample_poll"


@pytest.fixture(autouse=True)
def journal() -> list[str]:
    sample.JOURNAL.clear()
    return sample.JOURNAL


def _settings(tmp: Path, modules: tuple[str, ...] = ("tests.connector.sample",), **cfg: Any) -> Settings:
    return Settings.model_validate(
        {
            "queue": {"kind": "local", "path": str(tmp / "queue.db"), "visibility_timeout": 5},
            "store": {"kind": "sqlite", "path": str(tmp / "state.db")},
            "worker": {"concurrency": 2, "wait_seconds": 0.2, "drain_seconds": 5}
            | {"retry": {"max_attempts": 1, "base_delay": 0.01, "max_delay": 0.01}},
            "relay": {"enabled": False, "port": 0},
            "plugin_modules": list(modules),
            "load_entry_points": False,
            "connectors": {"sample": cfg},
        }
    )


@asynccontextmanager
async def _running(cfg: Settings) -> AsyncIterator[Runtime]:
    async with Runtime(cfg, entry_points=False) as rt:
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            yield rt
        finally:
            rt.stop()
            await asyncio.wait_for(task, 20)


async def _handle(rt: Runtime, event: Event) -> None:
    """Send one event through the queue and wait until the worker settled it (acked or dead-lettered)."""
    queue = rt.context.queue

    async def settled() -> int:
        return rt.worker.processed + len(await queue.list_dead_letters(1000))

    before = await settled()
    await queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])

    async def done() -> bool:
        return await settled() > before

    await wait_until(done, timeout=30)


async def _tick(tmp: Path, slot: int, **cfg: Any) -> str | None:
    async with _running(_settings(tmp, **cfg)) as rt:
        await _handle(rt, schedule_tick("sample_poll", slot))
        return await rt.context.store.get_cursor(CURSOR)


async def test_the_cursor_advances_only_on_success_and_never_past_the_signpost(
    tmp_path: Path, journal: list[str]
) -> None:
    assert await _tick(tmp_path, 1, newest="2030-01-01T08:00:00+00:00") == "2030-01-01T08:00:00+00:00"
    # a failed run leaves the bookmark where it was
    assert (
        await _tick(tmp_path, 2, newest="2030-01-01T09:00:00+00:00", fail=True) == "2030-01-01T08:00:00+00:00"
    )
    # a value seen after the run started is capped at the signpost, so the next run reads it again
    assert await _tick(tmp_path, 3, newest="2030-01-01T23:00:00+00:00") == sample.SIGNPOST.isoformat()
    # nothing new seen, or an older value: the bookmark never moves backwards
    assert await _tick(tmp_path, 4) == sample.SIGNPOST.isoformat()
    assert await _tick(tmp_path, 5, newest="2030-01-01T01:00:00+00:00") == sample.SIGNPOST.isoformat()
    assert [line for line in journal if line.startswith("poll")] == [
        "poll since=None",
        "poll since=2030-01-01T08:00:00+00:00",
        "poll since=2030-01-01T08:00:00+00:00",
        f"poll since={sample.SIGNPOST.isoformat()}",
        f"poll since={sample.SIGNPOST.isoformat()}",
    ]


async def test_clients_open_in_order_and_close_in_reverse(tmp_path: Path, journal: list[str]) -> None:
    async with _running(_settings(tmp_path, fail_closing="second")) as rt:
        await _handle(rt, _deal_event("7"))
    assert journal == [
        "open first",
        "open second",
        "open third",
        "deal 7 via ['first', 'second', 'third']",
        "close third",
        "close second",  # its failure is logged; the first is still closed
        "close first",
    ]


async def test_a_client_failing_to_open_closes_the_ones_already_open(
    tmp_path: Path, journal: list[str]
) -> None:
    with pytest.raises(ConnectionError, match="third cannot connect"):
        async with Runtime(_settings(tmp_path, fail_opening="third"), entry_points=False):
            pytest.fail("started with a client that cannot open")
    assert journal == ["open first", "open second", "close second", "close first"]


async def test_an_unconfigured_connector_stays_idle(tmp_path: Path, journal: list[str]) -> None:
    async with _running(_settings(tmp_path, idle=True)) as rt:
        await _handle(rt, _deal_event("8"))
        await _handle(rt, schedule_tick("sample_poll", 1))
        assert await rt.context.queue.list_dead_letters(10) == []
        assert await rt.context.store.get_cursor(CURSOR) is None
    assert journal == []


async def test_async_declaration_hooks_are_awaited(tmp_path: Path, journal: list[str]) -> None:
    cfg = _settings(tmp_path, ("tests.connector.sample", "tests.connector.async_plugin"))
    cfg = cfg.model_copy(update={"relay": cfg.relay.model_copy(update={"enabled": True})})
    async with _running(cfg) as rt:
        assert "async_decl" in [c.spec.name for c in rt.plugins.connectors()]
        company = parse_hubspot_event(
            {
                "eventId": 1,
                "subscriptionType": "company.creation",
                "objectId": 5,
                "occurredAt": 1_700_000_000_000,
            }
        )
        await _handle(rt, company)
        assert "async_decl company.creation" in journal
        url = await rt.start_relay()
        async with aiohttp.ClientSession() as http, http.get(f"{url}/async-decl") as r:
            assert r.status == 200
            assert await r.json() == {"hello": "async"}


def _deal_event(deal: str) -> Event:
    return parse_hubspot_event(
        {
            "eventId": int(deal),
            "subscriptionType": "deal.propertyChange",
            "objectId": deal,
            "propertyName": "dealstage",
            "propertyValue": "x",
            "occurredAt": 1_700_000_000_000,
        }
    )
