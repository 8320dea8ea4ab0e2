"""``cosync demo`` (what ``make demo`` runs) finishes its script in under 60 s with every hop synced."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_syncs_every_hop_to_all_three_clouds_and_back(tmp_path: Path) -> None:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "cosync_worker", "demo", "--speed", "3", "--duration", "55"],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "8 of 8 hops synced" in output
    for hop in (
        "-> aws",
        "-> gcp",
        "-> microsoft",
        "AWS invitation -> HubSpot deal",
        "Microsoft referral -> HubSpot deal",
    ):
        assert hop in output
    assert "not synced" not in output
    assert elapsed < 60 + 15  # the script's 60 s plus interpreter and emulator start-up
