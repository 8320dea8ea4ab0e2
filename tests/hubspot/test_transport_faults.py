"""Throttling, server faults, connection errors and secrecy of the token."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.hubspot import HubSpotClient, HubSpotError
from cosync_worker.metrics import REMOTE_CALLS
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.testing.ports import refused_port

from .conftest import TOKEN, observe
from .faults import FaultServer

GET_ONE = "GET /crm/v3/objects/{objectType}/{objectId}"


def _metric(operation: str, outcome: str) -> float:
    return REMOTE_CALLS.labels(service="hubspot", operation=operation, outcome=outcome)._value.get()


async def test_429_is_waited_out_and_the_call_succeeds() -> None:
    emu = HubSpotEmulator(access_token=TOKEN, burst_limit=3, burst_window_seconds=1.0)
    arrivals = observe(emu)
    url = await emu.start()
    throttled_before = _metric(GET_ONE, "throttled")
    try:
        # The client's own budget is far above the emulator's limit, so HubSpot's 429s do the pacing.
        async with HubSpotClient(url, TOKEN, requests_per_10s=10_000) as hs:
            deal = await hs.create("deals", {"dealname": "t"})
            started = time.monotonic()
            results = await asyncio.wait_for(
                asyncio.gather(*(hs.get("deals", deal["id"]) for _ in range(8))), timeout=30
            )
            elapsed = time.monotonic() - started
    finally:
        await emu.stop()
    assert all(r["id"] == deal["id"] for r in results)
    assert hs.throttled > 0
    assert arrivals.throttled == hs.throttled
    assert elapsed >= 1.0  # Retry-After (>= 1 s) was honoured, not hammered
    assert _metric(GET_ONE, "throttled") - throttled_before == hs.throttled


async def test_server_errors_are_retried_then_succeed() -> None:
    script = [(503, {}), (502, "bad gateway"), (200, {"id": "1", "properties": {}})]
    async with FaultServer(*script) as server, HubSpotClient(server.url, TOKEN, backoff_base=0.01) as hs:
        assert (await hs.get("deals", "1"))["id"] == "1"
    assert hs.calls[GET_ONE] == 3
    assert server.requests == [("GET", "/crm/v3/objects/deals/1")] * 3


async def test_persistent_server_error_becomes_retry() -> None:
    script = [(500, f"boom {TOKEN}")] * 4
    async with (
        FaultServer(*script) as server,
        HubSpotClient(server.url, TOKEN, max_retries=2, backoff_base=0.01) as hs,
    ):
        with capture_logs() as logs, pytest.raises(Retry) as info:
            await hs.get("deals", "1")
    assert hs.calls[GET_ONE] == 3
    assert "HTTP 500" in str(info.value) and "3 attempts" in str(info.value)
    assert len([e for e in logs if e["event"] == "hubspot.retrying"]) == 2
    assert TOKEN not in repr(logs) and TOKEN not in str(info.value)


async def test_connection_refused_becomes_retry() -> None:
    with refused_port() as port:
        async with HubSpotClient(f"http://127.0.0.1:{port}", TOKEN, max_retries=1, backoff_base=0.01) as hs:
            with pytest.raises(Retry, match="ClientConnectorError|ClientOSError"):
                await hs.get("deals", "1")
    assert hs.calls[GET_ONE] == 2


async def test_daily_limit_defers_the_event() -> None:
    script = [(429, {"policyName": "DAILY", "message": "daily limit"})]
    async with FaultServer(*script) as server, HubSpotClient(server.url, TOKEN) as hs:
        with pytest.raises(Retry) as info:
            await hs.get("deals", "1")
    assert info.value.defer is not None and info.value.defer >= 60


async def test_4xx_is_permanent_and_never_shows_the_token(emulator: HubSpotEmulator) -> None:
    echo = {"status": "error", "message": f"bad header Bearer {TOKEN}", "category": "VALIDATION_ERROR"}
    async with FaultServer((400, echo)) as server, HubSpotClient(server.url, TOKEN) as hs:
        with pytest.raises(HubSpotError) as info:
            await hs.get("deals", "1")
    assert isinstance(info.value, PermanentError)
    assert "bad header" in info.value.message
    for text in (str(info.value), repr(info.value), info.value.reason, repr(hs), str(vars(hs))):
        assert TOKEN not in text

    # And a real refusal from the emulator: wrong token -> 401 with HubSpot's message, no token echoed.
    async with HubSpotClient(emulator.base_url, "wrong-" + TOKEN) as bad:
        with capture_logs() as logs, pytest.raises(HubSpotError) as refused:
            await bad.get("deals", "1")
    assert refused.value.status == 401
    assert refused.value.category == "INVALID_AUTHENTICATION"
    assert "Authentication credentials not found" in refused.value.message
    assert TOKEN not in str(refused.value) + repr(logs)


async def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="token"):
        HubSpotClient("http://127.0.0.1:1", "")
    with pytest.raises(ValueError, match="base URL"):
        HubSpotClient("127.0.0.1:1", TOKEN)
    with pytest.raises(ValueError, match="at least 1"):
        HubSpotClient("http://127.0.0.1:1", TOKEN, requests_per_10s=0)
    with pytest.raises(RuntimeError, match="not open"):
        await HubSpotClient("http://127.0.0.1:1", TOKEN).get("deals", "1")
