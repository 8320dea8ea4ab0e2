"""Issue 11's fault suite on the embedded default: the local SQLite queue and store, one worker process
SIGKILLed and restarted a few times, 10 % 5xx and a 429 storm from every emulator, every scheduled loop ticking
every few seconds (issue 15). Every deal goes to AWS, and a share of them to Google and to Microsoft too
(issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .harness import Load, assert_clean, run_scenario, start_suite

LOAD = Load(deals=200, rounds=10, kill_every=6.0, cloud_every=10, converge_timeout=300.0)


@pytest.mark.slow
@pytest.mark.timeout(540)
async def test_one_local_worker_survives_kills_5xx_and_a_429_storm(
    tmp_path: Path,
    hs: HubSpotEmulator,
    quota_pc: PartnerCentralEmulator,
    google_emulator: GoogleEmulator,
    microsoft_emulator: MicrosoftEmulator,
) -> None:
    queue = {"kind": "local", "path": str(tmp_path / "queue.db")}
    store = {"kind": "sqlite", "path": str(tmp_path / "state.db")}
    clouds = {"google": google_emulator, "microsoft": microsoft_emulator}
    async for suite in start_suite(
        tmp_path, hs, quota_pc, queue=queue, store=store, workers=1, clouds=clouds
    ):
        result = await run_scenario(suite, LOAD)
        print("\nFAULT SUITE sqlite", json.dumps(result["figures"], indent=1))
        await assert_clean(suite, result)
