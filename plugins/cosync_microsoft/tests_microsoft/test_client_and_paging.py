"""The Referrals client's failure policy and the poll's paging, against the emulators over loopback."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from cosync_microsoft.auth import MsalTokenProvider, StaticTokenProvider
from cosync_microsoft.client import MicrosoftApiError, ReferralsClient
from cosync_microsoft.config import MicrosoftConfig
from cosync_microsoft.plugin import MicrosoftConnector, sandbox_section
from cosync_microsoft.sync import CURSOR

from cosync_worker.config import Settings
from cosync_worker.errors import PermanentError, Retry
from cosync_worker.hooks import Context
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.remote_budget import SharedBucket
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.microsoft import throttle as ms_throttle
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.testing.clock import drive_time

from .conftest import ensure_properties


def msal_tokens(ms: MicrosoftEmulator, refresh: str | None = None) -> MsalTokenProvider:
    return MsalTokenProvider(
        client_id=ms.client_id,
        client_secret=ms.client_secret,
        authority=ms.token_url.split("/oauth2/")[0],
        scope="https://api.partner.microsoft.com/.default",
        refresh_token=refresh if refresh is not None else ms.refresh_token,
    )


async def static_token(ms: MicrosoftEmulator) -> str:
    form = {"grant_type": "client_credentials", "client_id": ms.client_id, "client_secret": ms.client_secret}
    async with aiohttp.ClientSession() as http, http.post(ms.token_url, data=form) as resp:
        return str((await resp.json())["access_token"])


async def test_plain_bearer_token_and_4xx_keeps_microsofts_message(
    microsoft_emulator: MicrosoftEmulator,
) -> None:
    ms = microsoft_emulator
    async with ReferralsClient(ms.base_url, StaticTokenProvider(await static_token(ms))) as client:
        with pytest.raises(MicrosoftApiError) as bad:
            await client.create({"name": "x", "type": "Nope"})
        assert isinstance(bad.value, PermanentError) and bad.value.status == 400
        assert "must be one of" in bad.value.reason and bad.value.target == "type"
        with pytest.raises(MicrosoftApiError) as missing:
            await client.get("no-such-referral")
        assert missing.value.status == 404 and "was not found" in missing.value.reason
    async with ReferralsClient(ms.base_url, StaticTokenProvider("not-a-token")) as client:
        with pytest.raises(PermanentError, match="401"):
            await client.get("x")


async def test_msal_token_is_cached_and_refreshed_once_concurrently(
    microsoft_emulator: MicrosoftEmulator,
) -> None:
    import asyncio

    ms = microsoft_emulator
    tokens = msal_tokens(ms)
    async with ReferralsClient(ms.base_url, tokens) as client:
        await asyncio.gather(*(client.find_by_external_reference(f"d{i}") for i in range(10)))
    assert ms.tokens_issued == 1 and tokens.refreshes == 1
    assert ms.client_secret not in repr(tokens) and ms.refresh_token not in repr(tokens)
    with pytest.raises(PermanentError, match="invalid_grant"):
        await msal_tokens(ms, refresh="stolen").token()


async def test_429_honours_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    async with MicrosoftEmulator(rate_per_second=2) as em:
        assert isinstance(em, MicrosoftEmulator)
        async with ReferralsClient(em.base_url, StaticTokenProvider(await static_token(em))) as client:
            started = time.monotonic()
            for _ in range(3):
                await client.find_by_external_reference("x")
            assert time.monotonic() - started >= 0.9  # waited the Retry-After instead of failing
        # A Retry-After longer than the client may sleep becomes Retry(defer=...) for the worker. The
        # emulator's clock stands still from here, so the three calls are in one second however slow they are.
        drive_time(monkeypatch, ms_throttle)
        quick = ReferralsClient(em.base_url, StaticTokenProvider(await static_token(em)), max_inline_wait=0)
        async with quick:
            with pytest.raises(Retry) as deferred:
                for _ in range(3):
                    await quick.find_by_external_reference("x")
        assert deferred.value.defer is not None and deferred.value.defer >= 1


async def test_5xx_and_unreachable_become_retry() -> None:
    client = ReferralsClient("http://127.0.0.1:9", StaticTokenProvider("t"), max_retries=1, backoff_base=0.01)
    async with client:
        with pytest.raises(Retry, match="unreachable"):
            await client.get("x")


def test_config_refuses_bad_sections() -> None:
    with pytest.raises(ValueError, match="tenant_id and client_secret"):
        MicrosoftConfig.model_validate({"client_id": "c"})
    with pytest.raises(ValueError, match="only allowed on loopback"):
        MicrosoftConfig.model_validate({"base_url": "http://example.com", "access_token": "t"})
    with pytest.raises(ValueError, match="matching pair"):
        MicrosoftConfig.model_validate({"access_token": "t", "stage_map": {"closedwon": ["Active", "Won"]}})
    assert not MicrosoftConfig.model_validate({}).configured


async def test_1000_referrals_sync_with_the_fewest_hubspot_calls(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, microsoft_emulator: MicrosoftEmulator
) -> None:
    hs, ms = hubspot_emulator, microsoft_emulator
    await ensure_properties(hs)
    for i in range(1000):
        ms.add_incoming_referral({"name": f"Referral {i}", "details": {"dealValue": i, "currency": "USD"}})
    config = MicrosoftConfig.model_validate(
        sandbox_section(
            {"base_url": ms.base_url, "token_url": ms.token_url, "client_id": ms.client_id}
            | {"client_secret": ms.client_secret, "refresh_token": ms.refresh_token}
        )
        | {"poll_page_size": 250}
    )
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    hs.calls.clear()
    try:
        async with HubSpotClient(hs.base_url, hs.access_token, requests_per_10s=10_000) as hubspot:
            # The connector alone, without a notifier (whose task and note creates would be counted too).
            context = Context(
                Settings.model_validate({}),
                store,
                queue=None,  # type: ignore[arg-type]
                connector_configs={"microsoft": config},
                services={"hubspot": hubspot},
            )
            sync = MicrosoftConnector()
            await sync.cosync_startup(context)
            try:
                first = await sync.poll()
                calls, ms_lists = dict(hs.calls), ms.calls["GET /v1.0/engagements/referrals"]
                second = await sync.poll()
                after_second = dict(hs.calls)
            finally:
                await sync.cosync_shutdown(context)
        assert (first.seen, first.created) == (1000, 1000)
        assert len(hs.objects("deals")) == 1000
        assert calls == {
            "POST /crm/v3/objects/{objectType}/search": 10,
            "POST /crm/v3/objects/{objectType}/batch/create": 10,
        }
        assert ms_lists == 4  # 250 a page
        # Incremental: the second poll only re-reads the overlap window, and writes nothing.
        assert (second.created, second.updated) == (0, 0)
        assert "POST /crm/v3/objects/{objectType}/batch/update" not in after_second
        assert await store.get_cursor(CURSOR)
    finally:
        await store.close()


async def test_the_configured_budget_is_drawn_from_the_shared_store(
    tmp_path: Path, microsoft_emulator: MicrosoftEmulator
) -> None:
    ms = microsoft_emulator
    config = MicrosoftConfig.model_validate(
        sandbox_section(
            {"base_url": ms.base_url, "token_url": ms.token_url, "client_id": ms.client_id}
            | {"client_secret": ms.client_secret, "refresh_token": ms.refresh_token}
        )
        | {"requests_per_minute": 10}  # a bucket of one token, refilled in ~6.7 s
    )
    from cosync_microsoft.plugin import build_referrals_client

    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    try:
        async with build_referrals_client(config, store) as client:
            await client.find_by_external_reference("d1")
        budget = client.budget
        assert isinstance(budget, SharedBucket) and budget.shape.capacity == 1
        # The one token went to that call: another process drawing from the same store has to wait.
        assert await store.take_tokens(budget.key, budget.shape.rate_per_second, 1.0) > 0
    finally:
        await store.close()
