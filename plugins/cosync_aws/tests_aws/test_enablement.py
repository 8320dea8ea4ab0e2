"""Installed is not enabled: a worker that only syncs Google or Microsoft starts without AWS settings, and an
enabled connector without what it needs refuses to start with a config error naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cosync_worker.config import ConfigError, Settings
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.hubspot import HubSpotEmulator


def _settings(tmp_path: Path, hubspot: dict[str, Any], aws: dict[str, Any] | None) -> Settings:
    data: dict[str, Any] = {
        "queue": {"kind": "local", "path": str(tmp_path / "q.db")},
        "store": {"kind": "sqlite", "path": str(tmp_path / "s.db")},
        "relay": {"enabled": True, "port": 0, "api_tokens": ["t"]},
        "hubspot": hubspot,
        "plugins": {"example": False, "gcp": False, "microsoft": False},
    }
    if aws is not None:
        data["connectors"] = {"aws": aws}
    return Settings.model_validate(data)


async def test_without_an_aws_section_the_connector_is_idle(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> None:
    settings = _settings(tmp_path, {"base_url": hubspot_emulator.base_url}, None)
    async with Runtime(settings) as rt, aiohttp.ClientSession() as http:
        await rt.start_relay()
        assert "aws.partnercentral" not in rt.context.services
        async with http.get(f"{rt.relay_url}/openapi.json") as r:
            paths = (await r.json())["paths"]
        # No route that would queue work nobody does
        assert "/submit-opportunity" not in paths and "/solutions" not in paths


async def test_enabled_without_a_hubspot_token_is_a_config_error(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> None:
    settings = _settings(tmp_path, {"base_url": hubspot_emulator.base_url}, {"enabled": True})
    with pytest.raises(ConfigError, match=r"hubspot\.access_token"):
        async with Runtime(settings):
            pass
