"""The rate budget: bucket maths, and N clients / N processes sharing one store never exceeding HubSpot's limit."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from cosync_worker.errors import Retry
from cosync_worker.hubspot import HubSpotClient, bucket_shape
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.store.sqlite import SqliteStore

from .conftest import TOKEN, Arrivals, observe

LIMIT = 100  # emulator: 100 requests per rolling second (a small, fast stand-in for 100 per 10 s)
WINDOW = 1.0
# The budget allows for 0.1 s between a draw and its arrival (remote_budget's skew): 1 % of HubSpot's 10 s
# window, but 10 % of this 1 s stand-in, and a loaded machine delays a crowd of requests on one event loop by
# more. So the clients are told a longer window (~60/s against the emulator's 100/s): that absorbs ~0.5 s of
# such delay, and two clients that did not share their budget would still go ~120/s and be throttled.
CLIENT_WINDOW = WINDOW * 1.4
TOTAL = 300
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("limit", "window"), [(100, 10.0), (190, 10.0), (5, 1.0), (20, 2.0), (100, 1.0)])
def test_bucket_never_admits_more_than_the_limit_in_any_window(limit: int, window: float) -> None:
    """Greedy worst case: a caller takes every token the moment it exists, starting from a full bucket."""
    shape = bucket_shape(limit, window)
    step = 0.001
    level, now, admitted = shape.capacity, 0.0, []
    while now < window * 4:
        while level >= 1.0:
            level -= 1.0
            admitted.append(now)
        now += step
        level = min(shape.capacity, level + shape.rate_per_second * step)
    start = 0
    for end, t in enumerate(admitted):
        while admitted[start] <= t - window:
            start += 1
        assert end - start + 1 <= limit
    # ...and still uses most of the budget over the long run.
    assert len(admitted) / (window * 4) >= 0.75 * limit / window


def test_bucket_shape_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        bucket_shape(0, 10)
    with pytest.raises(ValueError, match="positive"):
        bucket_shape(10, 0)


async def _small_emulator() -> tuple[HubSpotEmulator, Arrivals, str]:
    emu = HubSpotEmulator(access_token=TOKEN, burst_limit=LIMIT, burst_window_seconds=WINDOW)
    arrivals = observe(emu)
    await emu.start()
    async with HubSpotClient(emu.base_url, TOKEN, budget_name="setup") as setup:
        deal_id = (await setup.create("deals", {"dealname": "budget"}))["id"]
    emu.limiter.clear()  # the set-up call does not count in the windows under test (no sleeping it out)
    arrivals.seen.clear()
    return emu, arrivals, deal_id


async def test_two_clients_sharing_a_store_stay_under_the_limit(tmp_path: Path) -> None:
    emu, arrivals, deal_id = await _small_emulator()
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    clients = [
        HubSpotClient(emu.base_url, TOKEN, store=store, requests_per_10s=LIMIT, window_seconds=CLIENT_WINDOW)
        for _ in range(2)
    ]
    try:
        for c in clients:
            await c.open()
        gate = asyncio.Semaphore(40)

        async def one(client: HubSpotClient) -> str:
            async with gate:
                return str((await client.get("deals", deal_id))["id"])

        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(clients[n % 2]) for n in range(TOTAL))), timeout=60
        )
        elapsed = time.monotonic() - started
    finally:
        for c in clients:
            await c.close()
        await store.close()
        await emu.stop()
    assert results == [deal_id] * TOTAL  # no call reached the caller as an error
    assert sum(c.throttled for c in clients) == 0
    assert arrivals.throttled == 0
    assert len(arrivals.seen) == TOTAL
    assert arrivals.max_admitted_in(WINDOW) <= LIMIT
    # The two clients really shared one budget: together they went no faster than one budget allows.
    shape = bucket_shape(LIMIT, CLIENT_WINDOW)
    assert elapsed >= (TOTAL - shape.capacity) / shape.rate_per_second * 0.9


async def test_two_processes_sharing_a_store_stay_under_the_limit(tmp_path: Path) -> None:
    emu, arrivals, deal_id = await _small_emulator()
    store_path = tmp_path / "state.db"
    seed = SqliteStore(store_path)  # create the schema once so the two processes start together
    await seed.open()
    await seed.close()
    script = Path(__file__).with_name("budget_worker.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [emu.base_url, TOKEN, str(store_path), deal_id, str(TOTAL // 2), str(LIMIT), str(CLIENT_WINDOW)]
    try:
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(script),
                *args,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), timeout=90)
    finally:
        await emu.stop()
    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert [r["ok"] for r in reports] == [TOTAL // 2, TOTAL // 2]
    assert [r["failed"] for r in reports] == [0, 0]
    assert sum(r["throttled"] for r in reports) == 0
    assert arrivals.throttled == 0
    assert len(arrivals.seen) == TOTAL
    assert arrivals.max_admitted_in(WINDOW) <= LIMIT


async def test_search_draws_from_its_own_per_second_budget() -> None:
    emu = HubSpotEmulator(access_token=TOKEN, burst_limit=10_000, search_per_second=5)
    arrivals = observe(emu)
    await emu.start()
    try:
        async with HubSpotClient(emu.base_url, TOKEN, requests_per_10s=10_000, search_per_second=5) as hs:
            await hs.batch_create("deals", [{"properties": {"dealname": f"x{n}"}} for n in range(30)])
            pages = await asyncio.gather(
                *(hs.search_all("deals", filter_groups=[], limit=10) for _ in range(3))
            )
    finally:
        await emu.stop()
    assert all(len(p) == 30 for p in pages)
    assert hs.calls["POST /crm/v3/objects/{objectType}/search"] == 9
    assert arrivals.throttled == 0 and hs.throttled == 0


async def test_without_a_store_an_in_process_budget_keeps_under_the_limit() -> None:
    emu, arrivals, deal_id = await _small_emulator()
    try:
        async with HubSpotClient(
            emu.base_url, TOKEN, requests_per_10s=LIMIT, window_seconds=CLIENT_WINDOW
        ) as hs:
            await asyncio.wait_for(
                asyncio.gather(*(hs.get("deals", deal_id) for _ in range(150))), timeout=30
            )
    finally:
        await emu.stop()
    assert hs.throttled == 0 and arrivals.throttled == 0
    assert len(arrivals.seen) == 150
    assert arrivals.max_admitted_in(WINDOW) <= LIMIT


async def test_unreachable_budget_store_becomes_retry(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "never-opened.db")
    async with HubSpotClient("http://127.0.0.1:9", TOKEN, store=store) as hs:
        with pytest.raises(Retry, match="rate budget unavailable"):
            await hs.get("deals", "1")
    assert sum(hs.calls.values()) == 0
