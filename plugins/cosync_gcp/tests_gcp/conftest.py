"""Shared fixtures: a throwaway service-account key, a config and a client pointed at the Google emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from cosync_gcp.client import CloudCrmPartnersClient
from cosync_gcp.config import GcpConfig
from cosync_gcp.sandbox import sandbox_key_info

from cosync_worker.sandbox.google import GoogleEmulator


@pytest.fixture(scope="session")
def key_info() -> dict[str, Any]:
    # RSA generation is slow-ish; one key serves every test (the emulator does not verify signatures).
    return sandbox_key_info("http://127.0.0.1:1/token")


def gcp_config(emulator: GoogleEmulator, key_info: dict[str, Any], **extra: Any) -> GcpConfig:
    import json

    return GcpConfig.model_validate(
        {
            "base_url": emulator.base_url,
            "token_url": emulator.token_url,
            "partner_id": emulator.partner_id,
            "service_account_json": json.dumps(key_info),
            "link_lookup": "sandbox",
            "backoff_base_seconds": 0.01,
            **extra,
        }
    )


@pytest_asyncio.fixture
async def gcp_client(
    google_emulator: GoogleEmulator, key_info: dict[str, Any]
) -> AsyncIterator[CloudCrmPartnersClient]:
    async with CloudCrmPartnersClient(
        google_emulator.base_url,
        google_emulator.partner_id,
        key_info,
        token_url=google_emulator.token_url,
        backoff_base=0.01,
        timeout_seconds=10,
    ) as client:
        yield client
