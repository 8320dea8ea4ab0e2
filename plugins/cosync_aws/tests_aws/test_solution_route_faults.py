"""``GET /solutions`` while Partner Central fails: a quick 503 with ``Retry-After``, never a slow 500."""

from __future__ import annotations

import time

import pytest
from aiohttp import web

from cosync_worker.sandbox.faults import Fault
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import API_TOKEN, Stack


class FailingListSolutions(PartnerCentralEmulator):
    """Partner Central answering every ListSolutions with a 500 while ``failing`` (each retry too)."""

    failing = True

    async def _api(self, request: web.Request) -> web.Response:
        if self.failing and request.headers.get("X-Amz-Target", "").endswith(".ListSolutions"):
            return self.fault_response(request, Fault("error"))
        return await super()._api(request)


@pytest.mark.partnercentral(emulator=FailingListSolutions)
async def test_solutions_while_partner_central_fails_is_a_quick_503_then_recovers(odd_stack: Stack) -> None:
    stack = odd_stack
    assert isinstance(stack.pc, FailingListSolutions)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    for path in ("/solutions", "/solutions/search?q=data", "/solutions/S-1000001"):
        started = time.monotonic()
        async with stack.session.get(f"{stack.rt.relay_url}{path}", headers=headers) as resp:
            body = await resp.json(content_type=None)
            assert resp.status in (502, 503), body
            assert resp.content_type == "application/problem+json"
            assert int(resp.headers["Retry-After"]) > 0
            assert "Partner Central" in body["detail"]
        # The client's own retries take 6-10 s; the route's deadline is 2 s (generous bound).
        assert time.monotonic() - started < 5.5
    stack.pc.failing = False
    # Recovered: the next reads list again (a background listing may still be finishing its retries).
    deadline = time.monotonic() + 30
    while True:
        async with stack.session.get(f"{stack.rt.relay_url}/solutions", headers=headers) as resp:
            if resp.status == 200:
                assert (await resp.json())["count"] > 0
                break
            assert resp.status in (502, 503) and time.monotonic() < deadline
