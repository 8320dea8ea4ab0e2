"""Each message is settled as soon as its own handling finishes, not when the slowest of its batch does (the
issue-15 fault suite: a long tick kept its neighbours unacked, every kill handed them all out again, and the
batch reached the queue's max receives). The slow message waits on a lease the test holds, on both backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cosync_worker.config import Settings
from cosync_worker.hooks import PluginManager
from cosync_worker.runtime import Runtime, open_queue, open_store

from . import blocker
from .helpers import deal_change, send, start_worker, trail_values, wait_until

pytestmark = pytest.mark.timeout(180)

_TEST = "the test"


async def _acked_events(stderr: asyncio.StreamReader, wanted: set[str]) -> None:
    """Read the worker's JSON log until it has acked every event id in ``wanted``."""
    while wanted:
        line = await stderr.readline()
        assert line, "the worker exited"
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "event_acked":
            wanted.discard(entry.get("event_id"))


async def test_a_finished_message_is_acked_while_its_neighbour_runs_and_a_kill_hands_out_only_the_rest(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(concurrency=4)
    data = settings.model_dump(mode="json", exclude_defaults=True)
    data["plugin_modules"] = [*settings.plugin_modules, blocker.MODULE]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    fast, slow = deal_change("held", "fast"), deal_change("held", blocker.BLOCKED)
    other = deal_change("beside", "fast")

    store = await open_store(settings.store)
    queue = await open_queue(settings.queue)
    try:
        assert await store.acquire_lease(blocker.LEASE, _TEST, 600) is not None
        await send(queue, [fast, slow, other])  # one send, fewer than a batch: one receive claims them all
        proc = await start_worker(config, tmp_path, COSYNC__LOGGING__LEVEL="DEBUG")
        assert proc.stderr is not None
        try:
            # Both finish while ``slow`` is still blocked: each is acked on its own, not with the batch.
            try:
                await asyncio.wait_for(_acked_events(proc.stderr, {fast.id, other.id}), 60)
            except TimeoutError:
                raise AssertionError("finished messages stayed unacked while their neighbour ran") from None
        finally:
            proc.kill()
            await proc.wait()

        # What the kill hands out again is what had not finished. ``fast`` would come back before ``slow``,
        # its successor in the group (the local queue hands a group out from its earliest message; moto's
        # FIFO emulation may not, so there only the ack above proves it).
        seen: list[str] = []

        async def slow_is_back() -> bool:
            seen.extend(m.body for m in await queue.receive(10, wait_seconds=1))
            return slow.to_json() in seen

        await wait_until(slow_is_back, timeout=60)
        assert fast.to_json() not in seen and other.to_json() not in seen
    finally:
        await queue.close()
        await store.close()


async def test_the_worker_tells_what_it_holds_and_a_group_waits_behind_its_running_message(
    settings_for: Callable[..., Settings],
) -> None:
    plugins = PluginManager()
    plugins.register(blocker)
    async with Runtime(settings_for(), plugins=plugins, entry_points=False) as rt:
        store, worker = rt.context.store, rt.worker
        assert worker.idle() and worker.in_flight == 0
        assert await store.acquire_lease(blocker.LEASE, _TEST, 600) is not None
        events = [deal_change("held", v) for v in ("fast", blocker.BLOCKED, "third")]
        await send(rt.context.queue, [*events, deal_change("beside", "fast")])
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            await wait_until(lambda: worker.processed == 2, timeout=60)
            # ``slow`` runs and ``third`` waits behind it, both still held (kept invisible by the heartbeat).
            assert worker.in_flight == 2 and not worker.idle()
            assert await trail_values(rt, "held") == ["fast", blocker.BLOCKED]
            await store.release_lease(blocker.LEASE, _TEST)
            await wait_until(worker.idle, timeout=60)
            assert worker.processed == 4 and worker.in_flight == 0
            assert await trail_values(rt, "held") == ["fast", blocker.BLOCKED, "third"]
        finally:
            rt.stop()
            await asyncio.wait_for(task, 30)
