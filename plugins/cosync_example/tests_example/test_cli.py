"""The example from the command line, as an operator meets it: ``cosync plugins`` lists it, ``cosync properties
create`` creates its properties and ``cosync sync example_desk_poll --once`` runs one tick of its poll against
the desk, the cursor kept."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cosync_example.client import DeskClient
from cosync_example.desk import TicketDeskEmulator

from .conftest import desk_section


async def _cosync(cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cosync_worker", *args, cwd=cwd, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_sync_once_polls_the_desk_and_keeps_the_cursor(
    tmp_path: Path, desk: TicketDeskEmulator, hubspot_emulator: Any
) -> None:
    stamp = datetime(2020, 1, 1, tzinfo=UTC)  # before the run started: the cursor is not capped
    desk.clock = lambda: stamp
    async with DeskClient(desk.base_url, desk.token) as client:
        await client.open_ticket({"subject": "Opened by hand", "deal_id": None}, idempotency_key="hand")
    config = {
        "queue": {"path": "q.db"},
        "store": {"path": "s.db"},
        "relay": {"enabled": False},
        "load_entry_points": False,
        "plugin_modules": ["cosync_example.plugin"],
        "hubspot": {"base_url": hubspot_emulator.base_url, "access_token": hubspot_emulator.access_token},
        "connectors": {"example": desk_section(desk)},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = await _cosync(tmp_path, "plugins", "-c", "config.yaml")
    assert code == 0, err
    assert "connector 'example'" in out and "example_desk_poll every 300s" in out
    code, out, err = await _cosync(tmp_path, "properties", "create", "-c", "config.yaml")
    assert code == 0, err
    assert "example_ticket_id" in out
    code, out, err = await _cosync(tmp_path, "sync", "example_desk_poll", "--once", "-c", "config.yaml")
    assert code == 0, err
    assert '"outcome": "ack"' in out
    assert desk.calls["GET /v1/tickets"] == 1
    with sqlite3.connect(tmp_path / "s.db") as db:
        row = db.execute(
            "SELECT value FROM cursors WHERE name = ?", ("example:example_desk_poll",)
        ).fetchone()
    assert row == (stamp.isoformat(),)
