"""SQLite audit retention by a pruning loop: a store nobody writes to is pruned too. The store's clock is
driven (``drive_time``), the loop's tick goes through the queue as the scheduler's would, and what is left is
counted in the SQLite file itself (reads hide expired entries at once, so only the file shows a deletion)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import cosync_worker.store.sqlite as sqlite_store
from cosync_worker.config import Settings
from cosync_worker.connector import record_audit
from cosync_worker.events import schedule_tick
from cosync_worker.hooks import PluginManager
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.store import AuditEntry
from cosync_worker.store.prune_loop import PRUNE_LOOP
from cosync_worker.testing.clock import drive_time
from cosync_worker.testing.conformance import running_stack, stack_settings
from cosync_worker.testing.waiting import wait_until
from cosync_worker.worker import resolve_schedules

DAY = 86_400.0


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM audit").fetchone()[0])


async def test_a_quiet_store_loses_its_expired_entries_on_the_daily_tick(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = drive_time(monkeypatch, sqlite_store)
    path = tmp_path / "state.db"
    store = {"kind": "sqlite", "path": str(path), "audit_retention_days": 30}
    cfg = stack_settings(tmp_path, hubspot_emulator, [], {}, store=store)
    async with running_stack(cfg, hubspot_emulator) as stack:
        st = stack.rt.context.store
        for n in range(3):
            await record_audit(
                st,
                system="cloud",
                object_type="record",
                object_id="R1",
                action="update",
                about="cloud",
                deal_id="1",
                calls=["Update"],
                n=n,
            )
        clock.advance(20 * DAY)
        await st.append_audit(AuditEntry("cloud:record:R1", "cloud", "recent", at=clock()))
        clock.advance(
            11 * DAY
        )  # the first three are 31 days old, past the retention; nothing is appended now
        assert _rows(path) == 4

        tick = schedule_tick(PRUNE_LOOP, int(clock() // DAY))
        await stack.rt.context.queue.send([(tick.to_json(), tick.ordering_key, tick.dedupe_key)])
        await wait_until(lambda: _rows(path) == 1)
        assert [e.action for e in await st.audit_trail("cloud:record:R1")] == ["recent"]


def test_the_loop_runs_daily_unless_configured_otherwise() -> None:
    plugins = PluginManager().load(Settings(), entry_points=False)
    specs = [c.spec for c in plugins.connectors()]
    [daily] = [s for s in resolve_schedules(specs, {}) if s.name == PRUNE_LOOP]
    assert daily.interval == DAY
    hourly = Settings.model_validate({"schedules": {PRUNE_LOOP: {"interval_seconds": 3600}}})
    [found] = [s for s in resolve_schedules(specs, hourly.schedules) if s.name == PRUNE_LOOP]
    assert found.interval == 3600


def test_the_core_loops_are_sdk_connectors_scheduled_as_any_other() -> None:
    # The pruning loop and the digest are @every loops of SDK connectors: no hand-written schedule plumbing.
    from cosync_worker.connector import Connector

    plugins = PluginManager().load(Settings(), entry_points=False)
    for module in ("cosync_worker.store.prune_loop", "cosync_worker.notify.digest_loop"):
        assert isinstance(plugins.get_plugin(module), Connector)
