"""``cosync properties create`` creates what the installed connectors declare, once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp

from .helpers import cli, write_config


async def test_properties_create_is_idempotent(tmp_path: Path, hubspot_emulator: Any) -> None:
    config = {
        "queue": {"path": str(tmp_path / "q.db")},
        "store": {"path": str(tmp_path / "s.db")},
        "relay": {"enabled": False},
        "hubspot": {"base_url": hubspot_emulator.base_url, "access_token": "env:HS_TOKEN"},
    }
    write_config(tmp_path, config)
    os.environ["HS_TOKEN"] = hubspot_emulator.access_token
    try:
        code, out, err = await cli(tmp_path, "properties", "create", "-c", "config.yaml")
        assert code == 0, err
        assert "example_ticket_id" in out
        headers = {"Authorization": f"Bearer {hubspot_emulator.access_token}"}
        async with aiohttp.ClientSession() as http:
            url = f"{hubspot_emulator.base_url}/crm/v3/properties/deals/example_ticket_id"
            async with http.get(url, headers=headers) as r:
                assert r.status == 200
                assert (await r.json())["groupName"] == "cosync"
        code, out, err = await cli(tmp_path, "properties", "create", "-c", "config.yaml")
        assert code == 0, err
        assert out.startswith("created 0 properties")
        assert hubspot_emulator.access_token not in out + err
    finally:
        os.environ.pop("HS_TOKEN", None)
