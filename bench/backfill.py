"""``cosync backfill`` on the 300-deal first-day world (``tests/linking/world.py``): wall time and the remote
calls it made, beside the lower bound Partner Central's write quota sets.

The emulators run in this process, seeded straight into their state (their counters start at zero); the
backfill runs as a user runs it, ``python -m cosync_worker backfill --accept-above 0.9`` in a directory of its
own. With ``--time-scale S`` Partner Central's quota (1 write/s) runs S times faster and the client paces
itself to 0.9 of it, so the lower bound is ``writes / (0.9 * S)`` seconds; ``--time-scale 1`` is AWS's real
quota. Loopback only. Run: ``.venv/bin/python bench/backfill.py [--time-scale 25]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cosync_worker.sandbox.google import GoogleEmulator  # noqa: E402
from cosync_worker.sandbox.hubspot import HubSpotEmulator  # noqa: E402
from cosync_worker.sandbox.microsoft import MicrosoftEmulator  # noqa: E402
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator  # noqa: E402
from cosync_worker.sandbox.partnercentral.app import WRITE_OPERATIONS  # noqa: E402
from tests.cli.helpers import cli, spawn  # noqa: E402
from tests.linking.world import seed, world_config  # noqa: E402

_READ_ENDS = ("/search", "/batch/read")


class _Stamped(Counter[str]):
    """An emulator's call counter that also notes when each call was answered (``time.monotonic``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[tuple[float, str]] = []

    def __setitem__(self, key: str, value: int) -> None:
        if value > self.get(key, 0):
            self.stamps.append((time.monotonic(), key))
        super().__setitem__(key, value)


def _spans(started: float, ended: float, pc: _Stamped, others: list[_Stamped], pace: float) -> dict[str, Any]:
    """Where the wall time went: before the first Partner Central write, the writes' own span (and the idle
    gaps in it longer than two paces, e.g. a throttle's Retry-After), and after the last one."""
    writes = [t for t, k in pc.stamps if k in WRITE_OPERATIONS]
    if not writes:
        return {}
    gaps = [b - a for a, b in itertools.pairwise(writes) if b - a > 2 * pace]
    other = [t for c in others for t, k in c.stamps if not (k.startswith("GET ") or k.endswith("/token"))]
    return {
        "before_first_pc_write": round(writes[0] - started, 1),
        "pc_write_span": round(writes[-1] - writes[0], 1),
        "pc_idle_gaps": {"count": len(gaps), "seconds": round(sum(gaps), 1)},
        "after_last_pc_write": round(ended - writes[-1], 1),
        "other_writes_after_last_pc_write": sum(1 for t in other if t > writes[-1]),
    }


def _split(calls: Counter[str], pc: bool) -> tuple[int, int]:
    """``(reads, writes)`` of one emulator's counter (token grants left out: they change no data)."""
    reads = writes = 0
    for name, n in calls.items():
        if name.endswith("/token"):
            continue
        write = name in WRITE_OPERATIONS if pc else not (name.startswith("GET ") or name.endswith(_READ_ENDS))
        writes += n if write else 0
        reads += 0 if write else n
    return reads, writes


async def main(time_scale: float) -> dict[str, Any]:
    hs = HubSpotEmulator(burst_limit=100_000, search_per_second=10_000)
    pc = PartnerCentralEmulator(write_rate=1.0, read_rate=10.0, time_scale=time_scale, task_seconds=0.05)
    ms, google = MicrosoftEmulator(rate_per_second=100.0), GoogleEmulator(rate_per_second=100.0)
    for emulator in (hs, pc, ms, google):
        await emulator.start()
    try:
        world = seed(hs, pc, ms, google)
        with tempfile.TemporaryDirectory() as tmp:
            config = world_config(Path(tmp), world, time_scale)
            code, _, err = await cli(Path(tmp), "properties", "create", "-c", str(config))
            assert code == 0, err
            for emulator in (hs, pc, ms, google):
                emulator.calls.clear()
            dry = await spawn(Path(tmp), "backfill", "--dry-run", "--json", "-c", str(config))
            dry_out, dry_err = await dry.communicate()
            assert dry.returncode == 0, dry_err.decode()[-2000:]
            planned = json.loads(dry_out.decode())
            stamped = {name: _Stamped() for name in ("hs", "pc", "ms", "google")}
            hs.calls, pc.calls, ms.calls, google.calls = (stamped[n] for n in ("hs", "pc", "ms", "google"))
            started = time.monotonic()
            proc = await spawn(Path(tmp), "backfill", "--accept-above", "0.9", "--json", "-c", str(config))
            raw, errors = await asyncio.wait_for(proc.communicate(), 3600)
            ended = time.monotonic()
            wall = ended - started
            assert proc.returncode == 0, errors.decode()[-2000:]
            out = raw.decode()
        report = json.loads(out)
        calls = {
            "hubspot": _split(hs.calls, False),
            "partner_central": _split(pc.calls, True),
            "microsoft": _split(ms.calls, False),
            "google": _split(google.calls, False),
        }
        pc_writes = calls["partner_central"][1]
        return {
            "time_scale": time_scale,
            "wall_seconds": round(wall, 1),
            "done": report["done"],
            "calls": {k: {"reads": r, "writes": w} for k, (r, w) in calls.items()},
            "pc_writes_planned": sum(b["writes"] for b in planned["budget"]),
            "pc_writes": pc_writes,
            "pc_writes_by_operation": {k: n for k, n in sorted(pc.calls.items()) if k in WRITE_OPERATIONS},
            "pc_lower_bound_seconds": round(pc_writes / (0.9 * time_scale), 1),
            "pc_lower_bound_at_aws_quota_seconds": pc_writes,
            "spans_seconds": _spans(
                started,
                ended,
                stamped["pc"],
                [stamped["hs"], stamped["ms"], stamped["google"]],
                1 / (0.9 * time_scale),
            ),
            "duplicates": world.duplicates(),
        }
    finally:
        for emulator in (google, ms, pc, hs):
            await emulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=25.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.time_scale)), indent=1))
