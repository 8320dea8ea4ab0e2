"""bench/write_budget.py still runs and still measures what docs/benchmarks.md reports: its ideal-scheduler
floors for the issue's three loads, and a tiny load through cosync and the seeds' design end to end."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from cosync_worker.testing.bench_scripts import load_bench

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    return load_bench(ROOT, "write_budget")


def test_the_ideal_floors_of_the_issues_loads() -> None:
    bench = _bench()
    # 300 edits round-robin over 60 deals, at 1 write/s
    at_5x, at_60s, under = (
        bench.ideal([(i * seconds / 300, str(i % 60)) for i in range(300)]) for seconds in (12, 60, 600)
    )
    assert (at_5x.writes, round(at_5x.converged)) == (70, 57)  # writes begin while the edits still land
    assert (at_60s.writes, round(at_60s.converged)) == (120, 59)
    assert (under.writes, under.converged, under.p99) == (300, 0.0, 0.0)


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_a_tiny_load_through_cosync_and_the_seeds_design(tmp_path: Path) -> None:
    bench = _bench()
    systems = (bench.COSYNC, bench.SEEDS)
    load = bench.Load("smoke", edits=9, seconds=9.0, time_scale=10.0, systems=systems)
    rows = []
    for system in systems:
        (tmp_path / system).mkdir()
        rows.append(await bench.run_system(tmp_path / system, system, load, deals=3))
    cosync, seeds = rows
    assert (cosync.stale, cosync.lost, cosync.overwritten, cosync.throttled) == (0, 0, 0, 0), cosync
    assert cosync.pc_reads <= cosync.writes, cosync
    assert 3 <= cosync.writes <= 9 and cosync.converged is not None, cosync
    # every edit is one webhook event, hence one handler reading the deal at least once
    assert seeds.hubspot["GET /crm/v3/objects/{objectType}/{objectId}"] >= 9, seeds
    assert "| deals left stale | 0 | " in bench.table(load, rows)
