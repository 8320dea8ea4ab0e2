"""CloudCrmPartnersClient over loopback HTTP: the Google emulator (token endpoint included) and a flaky server."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from cosync_gcp.client import CloudCrmPartnersClient, GoogleApiError, GoogleNotFound

from cosync_worker.connector import OutcomeUnknown
from cosync_worker.errors import PermanentError, Retry
from cosync_worker.remote_budget import SharedBucket
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.store.sqlite import SqliteStore

from .test_mapping import COMPANY, CONFIG, CONTACT, DEAL

pytestmark = pytest.mark.timeout(60)


def a_lead() -> dict[str, Any]:
    from cosync_gcp.mapping import lead_body

    return lead_body("5", DEAL, COMPANY, CONTACT, CONFIG)


async def test_lead_and_opportunity_round_trip(
    gcp_client: CloudCrmPartnersClient, google_emulator: GoogleEmulator
) -> None:
    lead = await gcp_client.create_lead(a_lead())
    assert lead["name"].startswith(f"partners/{google_emulator.partner_id}/leads/")
    assert (await gcp_client.get_lead(lead["name"]))["externalSystemId"] == "hubspot-deal-5"
    opp_name = google_emulator.opportunity_for_lead(lead["name"])
    assert opp_name is not None
    patched = await gcp_client.patch_opportunity(
        opp_name.rsplit("/", 1)[1], {"salesStage": "QUALIFIED", "notes": "ignored"}, ["salesStage"]
    )
    assert patched["salesStage"] == "QUALIFIED" and "notes" not in patched
    assert google_emulator.opportunities()[opp_name]["salesStage"] == "QUALIFIED"


async def test_concurrent_callers_share_one_token_and_an_expired_token_is_refreshed_once(
    gcp_client: CloudCrmPartnersClient, google_emulator: GoogleEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.gather(*(gcp_client.get_lead("none-" + str(i)) for i in range(8)), return_exceptions=True)
    assert google_emulator.tokens_issued == 1 and gcp_client.refreshes == 1
    token = gcp_client.credentials.token
    assert token
    # Time passes: google-auth now considers the token expired.
    gcp_client.credentials.expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    results = await asyncio.gather(*(gcp_client.get_lead(f"x{i}") for i in range(8)), return_exceptions=True)
    assert all(isinstance(r, GoogleNotFound) for r in results)  # authenticated, just absent
    assert google_emulator.tokens_issued == 2 and gcp_client.refreshes == 2
    out = capsys.readouterr()
    assert "gcp_token_refreshed" in out.out + out.err  # the refresh is logged ...
    assert token not in out.out + out.err  # ... but never the token
    assert str(gcp_client.credentials.token) not in out.out + out.err + repr(gcp_client)


async def test_a_revoked_token_is_refreshed_once_for_all_callers(
    gcp_client: CloudCrmPartnersClient, google_emulator: GoogleEmulator
) -> None:
    lead = await gcp_client.create_lead(a_lead())
    google_emulator.tokens.clear()  # Google forgets the token before its expiry
    got = await asyncio.gather(*(gcp_client.get_lead(lead["name"]) for _ in range(6)))
    assert all(g["name"] == lead["name"] for g in got)
    assert gcp_client.refreshes == 2


async def test_4xx_is_permanent_and_keeps_googles_message(
    gcp_client: CloudCrmPartnersClient, google_emulator: GoogleEmulator
) -> None:
    lead = await gcp_client.create_lead(a_lead())
    opp = google_emulator.opportunity_for_lead(lead["name"])
    assert opp is not None
    bad = {**a_lead(), "dealTerm": None}
    with pytest.raises(GoogleApiError) as err:
        await gcp_client.create_lead(bad)
    assert isinstance(err.value, PermanentError) and err.value.status == 400
    assert "lead.dealTerm" in err.value.reason and "INVALID_ARGUMENT" in err.value.reason
    with pytest.raises(GoogleApiError, match="update_mask"):
        await gcp_client.patch_opportunity(opp, {"lead": "x"}, ["lead"])
    with pytest.raises(GoogleNotFound, match="not found"):
        await gcp_client.get_opportunity("nope")


async def test_wrong_partner_names_are_refused_before_any_call(gcp_client: CloudCrmPartnersClient) -> None:
    with pytest.raises(ValueError, match="not a leads name"):
        await gcp_client.get_lead("partners/someone-else/leads/1")
    with pytest.raises(ValueError, match="update_mask"):
        await gcp_client.patch_opportunity("1", {}, [])


async def test_429_is_retried_honouring_retry_after(key_info: dict[str, Any]) -> None:
    async with GoogleEmulator(rate_per_second=3) as em:
        assert isinstance(em, GoogleEmulator)
        async with CloudCrmPartnersClient(
            em.base_url, em.partner_id, key_info, token_url=em.token_url, backoff_base=0.01
        ) as client:
            results = await asyncio.gather(
                *(client.get_lead(f"l{i}") for i in range(5)), return_exceptions=True
            )
        assert all(isinstance(r, GoogleNotFound) for r in results), results
        assert em.calls["GET /v1/partners/{partner}/leads/{lead}"] > 5  # some were throttled, then retried


@pytest_asyncio.fixture
async def flaky(google_emulator: GoogleEmulator) -> AsyncIterator[dict[str, Any]]:
    """A server failing the first ``fail`` lead creations with ``status`` (then answering like Google)."""
    state: dict[str, Any] = {"fail": 2, "status": 503, "seen": 0}

    async def create(request: web.Request) -> web.Response:
        state["seen"] += 1
        if state["seen"] <= state["fail"]:
            return web.json_response(
                {
                    "error": {
                        "code": state["status"],
                        "message": "backend unavailable",
                        "status": "UNAVAILABLE",
                    }
                },
                status=state["status"],
            )
        return web.json_response({"name": f"partners/{request.match_info['p']}/leads/ok"})

    app = web.Application()
    app.router.add_post("/v1/partners/{p}/leads", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state["url"] = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_a_throttled_create_is_retried_with_backoff_then_succeeds(
    flaky: dict[str, Any], google_emulator: GoogleEmulator, key_info: dict[str, Any]
) -> None:
    flaky["status"] = 429  # a quota refusal: Google served nothing, so sending again is safe
    async with CloudCrmPartnersClient(
        flaky["url"], "p", key_info, token_url=google_emulator.token_url, backoff_base=0.01, max_retries=3
    ) as client:
        lead = await client.create_lead(a_lead())
    assert lead["name"] == "partners/p/leads/ok" and flaky["seen"] == 3


async def test_throttling_beyond_the_retry_budget_becomes_retry(
    flaky: dict[str, Any], google_emulator: GoogleEmulator, key_info: dict[str, Any]
) -> None:
    flaky.update(fail=100, status=429)
    async with CloudCrmPartnersClient(
        flaky["url"], "p", key_info, token_url=google_emulator.token_url, backoff_base=0.01, max_retries=2
    ) as client:
        with pytest.raises(Retry, match="backend unavailable"):
            await client.create_lead(a_lead())
    assert flaky["seen"] == 3


async def test_a_5xx_to_leads_create_is_not_sent_again(
    flaky: dict[str, Any], google_emulator: GoogleEmulator, key_info: dict[str, Any]
) -> None:
    """leads.create takes no request id: after a 5xx a lead may exist, and a second create could add one."""
    async with CloudCrmPartnersClient(
        flaky["url"], "p", key_info, token_url=google_emulator.token_url, backoff_base=0.01, max_retries=3
    ) as client:
        with pytest.raises(
            OutcomeUnknown, match="leads.create: outcome unknown .HTTP 503 backend unavailable"
        ):
            await client.create_lead(a_lead())
    assert flaky["seen"] == 1


async def test_a_refused_key_is_a_permanent_error_without_key_material(key_info: dict[str, Any]) -> None:
    async with GoogleEmulator() as em:
        assert isinstance(em, GoogleEmulator)
        # A token URL the emulator does not serve: google-auth gets a 404 from the token endpoint.
        async with CloudCrmPartnersClient(
            em.base_url, em.partner_id, key_info, token_url=f"{em.base_url}/no-token-here"
        ) as client:
            with pytest.raises(PermanentError) as err:
                await client.get_lead("1")
    assert "token refresh refused" in err.value.reason
    assert "PRIVATE KEY" not in err.value.reason


async def test_each_call_draws_the_budget_shared_through_the_store(
    tmp_path: Path, google_emulator: GoogleEmulator, key_info: dict[str, Any]
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    try:
        em = google_emulator
        async with CloudCrmPartnersClient(
            em.base_url, em.partner_id, key_info, token_url=em.token_url, store=store, requests_per_minute=10
        ) as client:
            with pytest.raises(GoogleNotFound):
                await client.get_lead("absent")
        budget = client.budget
        assert isinstance(budget, SharedBucket) and budget.shape.capacity == 1
        # The one token went to that call: another process drawing from the same store has to wait.
        assert await store.take_tokens(budget.key, budget.shape.rate_per_second, 1.0) > 0
    finally:
        await store.close()


async def test_a_throttled_token_endpoint_is_a_retry_not_a_refused_key(key_info: dict[str, Any]) -> None:
    """A 429 storm on Google's token endpoint must not dead-letter the deal's creation (the fault suite lost
    leads this way): google-auth gives up with a retryable RefreshError, which becomes Retry."""
    calls = 0

    async def throttled(_: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response({"error": "rate_limit_exceeded"}, status=429, headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_post("/token", throttled)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with GoogleEmulator() as em:
            async with CloudCrmPartnersClient(
                em.base_url, em.partner_id, key_info, token_url=f"http://127.0.0.1:{port}/token"
            ) as client:
                with pytest.raises(Retry, match="token endpoint busy"):
                    await client.get_lead("1")
    finally:
        await runner.cleanup()
    assert calls >= 1
