"""``cosync properties create`` creates what the installed connectors declare, once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]


async def _cli(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cosync_worker",
        *args,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COSYNC__LOGGING__LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_properties_create_is_idempotent(tmp_path: Path, hubspot_emulator: Any) -> None:
    config = {
        "queue": {"path": str(tmp_path / "q.db")},
        "store": {"path": str(tmp_path / "s.db")},
        "relay": {"enabled": False},
        "hubspot": {"base_url": hubspot_emulator.base_url, "access_token": "env:HS_TOKEN"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    os.environ["HS_TOKEN"] = hubspot_emulator.access_token
    try:
        code, out, err = await _cli(tmp_path, "properties", "create", "-c", "config.yaml")
        assert code == 0, err
        assert "example_last_change" in out
        headers = {"Authorization": f"Bearer {hubspot_emulator.access_token}"}
        async with aiohttp.ClientSession() as http:
            url = f"{hubspot_emulator.base_url}/crm/v3/properties/deals/example_last_change"
            async with http.get(url, headers=headers) as r:
                assert r.status == 200
                assert (await r.json())["groupName"] == "cosync"
        code, out, err = await _cli(tmp_path, "properties", "create", "-c", "config.yaml")
        assert code == 0, err
        assert out.startswith("created 0 properties")
        assert hubspot_emulator.access_token not in out + err
    finally:
        os.environ.pop("HS_TOKEN", None)
