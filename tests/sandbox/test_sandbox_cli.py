"""``cosync sandbox``: one JSON line on stdout, the live emulators, a config that `cosync run` accepts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]


async def test_sandbox_prints_one_json_line_and_writes_a_working_config(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cosync_worker",
        "sandbox",
        "--write-config",
        "sandbox.yaml",
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        info = json.loads(line)
        # the clouds' emulators, and the example connector's ticket desk (the example is installed in dev)
        assert set(info) == {"hubspot", "partnercentral", "microsoft", "google", "example", "relay"}
        assert (
            info["partnercentral"]["region"] == "us-east-1" and info["partnercentral"]["catalog"] == "Sandbox"
        )
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {info['hubspot']['access_token']}"}
            async with http.get(info["hubspot"]["base_url"] + "/crm/v3/owners", headers=headers) as r:
                assert r.status == 200
            for name, url in (
                ("partnercentral", info["partnercentral"]["endpoint_url"]),
                ("microsoft", info["microsoft"]["base_url"]),
                ("google", info["google"]["base_url"]),
                ("example", info["example"]["base_url"]),
            ):
                async with http.get(url + "/_sandbox/calls") as r:
                    assert r.status == 200, name
        config = yaml.safe_load((tmp_path / "sandbox.yaml").read_text())
        assert config["relay"]["port"] == int(info["relay"]["url"].rsplit(":", 1)[1])
        assert config["hubspot"]["base_url"] == info["hubspot"]["base_url"]
        check = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cosync_worker",
            "config",
            "check",
            "-c",
            "sandbox.yaml",
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(check.communicate(), 60)
        assert check.returncode == 0, err.decode()
        assert out.decode().strip() == "config ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    assert await proc.stdout.read() == b""  # exactly one line on stdout
