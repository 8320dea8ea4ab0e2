"""``cosync status``: the overview in the terminal and as JSON, exit 1 while something needs attention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cosync_worker import __version__
from cosync_worker.config import load_settings
from cosync_worker.runtime import open_queue, open_store
from cosync_worker.status import ActivitySampler

from .helpers import ROOT, cli, write_config


def _config(tmp_path: Path, **extra: Any) -> Path:
    return write_config(
        tmp_path,
        {"queue": {"path": str(tmp_path / "q.db")}, "store": {"path": str(tmp_path / "s.db")}, **extra},
    )


async def test_status_all_good_exits_zero_in_text_and_json(tmp_path: Path) -> None:
    _config(tmp_path)

    code, out, err = await cli(tmp_path, "status", "-c", "config.yaml")
    assert code == 0, err
    assert "Connectors" in out and "Scheduled loops" in out
    assert "all good" in out

    code, out, err = await cli(tmp_path, "status", "-c", "config.yaml", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["needs_attention"] is False
    assert report["problems"] == []
    assert report["queue"]["depth"] == 0 and report["queue"]["dead_letters"] == 0
    assert {c["name"] for c in report["connectors"]} >= {"aws"}
    assert len(report["chart"]) == 24


async def test_a_dead_letter_needs_attention(tmp_path: Path) -> None:
    config = _config(tmp_path)
    queue = await open_queue(load_settings(config, {}).queue)
    try:
        await queue.send([('{"not": "an event"}', "g", "d1"), ("waiting", "h", "w1")])
        [message] = [m for m in await queue.receive(10, 1) if m.body != "waiting"]
        await queue.dead_letter(message, "aws: ValidationException: Customer.Account.Industry")
    finally:
        await queue.close()

    code, out, err = await cli(tmp_path, "status", "-c", "config.yaml", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["needs_attention"] is True
    assert report["queue"]["dead_letters"] == 1
    assert report["queue"]["oldest_dead_letter_age_seconds"] is not None
    aws = next(c for c in report["connectors"] if c["name"] == "aws")
    assert aws["healthy"] is False and aws["dead_letters"] == 1
    assert any("dead letter" in p for p in report["problems"])
    assert any("connector aws is failing" in p for p in report["problems"])

    code, out, err = await cli(tmp_path, "status", "-c", "config.yaml")
    assert code == 1, err
    assert "needs attention" in out
    assert "connector aws is failing: 1 dead letter(s)" in out


async def test_an_overdue_loop_needs_attention(tmp_path: Path) -> None:
    config = _config(tmp_path, schedules={"aws_reconcile": {"interval_seconds": 60}})
    settings = load_settings(config, {})
    store = await open_store(settings.store)
    try:
        # The relay began recording a day ago and has seen no success of any loop since.
        await ActivitySampler(store, ["aws"], clock=lambda: time.time() - 86_400).sample()
    finally:
        await store.close()

    code, out, err = await cli(tmp_path, "status", "-c", "config.yaml", "--json")
    assert code == 1, err
    report = json.loads(out)
    reconcile = next(loop for loop in report["loops"] if loop["name"] == "aws_reconcile")
    assert reconcile["overdue"] is True and reconcile["interval_seconds"] == 60
    assert "loop aws_reconcile is overdue (no success in 2 intervals)" in report["problems"]
    disabled = load_settings(config, {"COSYNC__SCHEDULES__AWS_RECONCILE__ENABLED": "false"})
    assert disabled.schedules["aws_reconcile"].enabled is False


async def test_version_and_json_listings(tmp_path: Path) -> None:
    _config(tmp_path)
    code, out, _ = await cli(tmp_path, "--version")
    assert code == 0 and out.strip() == f"cosync {__version__}"

    code, out, err = await cli(tmp_path, "plugins", "-c", "config.yaml", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    aws = next(r for r in rows if r["connector"] == "aws")
    assert any(s["name"] == "aws_reconcile" for s in aws["schedules"])

    code, out, err = await cli(tmp_path, "config", "check", "-c", "config.yaml", "--json")
    assert code == 0, err
    assert json.loads(out) == {"ok": True, "problems": []}
    write_config(tmp_path, {"relay": {"api_tokens": ["env:COSYNC_TEST_NOPE"]}}, "bad.yaml")
    code, out, _ = await cli(tmp_path, "config", "check", "-c", "bad.yaml", "--json")
    assert code == 2
    assert json.loads(out) == {
        "ok": False,
        "problems": ["relay.api_tokens.0: environment variable COSYNC_TEST_NOPE is not set"],
    }


async def _park(config: Path, *reasons: str) -> None:
    queue = await open_queue(load_settings(config, {}).queue)
    try:
        await queue.send([(f'{{"n": {i}}}', f"g{i}", f"d{i}") for i in range(len(reasons))])
        for message, reason in zip(await queue.receive(10, 1), reasons, strict=True):
            await queue.dead_letter(message, reason)
    finally:
        await queue.close()


def _replay_all_without_a_terminal(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cosync_worker", "dlq", "replay", "-c", "config.yaml", *extra],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_dlq_list_is_a_table_or_json_and_replaying_all_asks(tmp_path: Path) -> None:
    config = _config(tmp_path)
    await _park(config, "aws: ValidationException: Project.Title", "gcp: 403 PERMISSION_DENIED")

    code, out, err = await cli(tmp_path, "dlq", "list", "-c", "config.yaml")
    assert code == 0, err
    assert "2 dead letter(s)" in out and "aws: ValidationException: Project.Title" in out
    code, out, err = await cli(tmp_path, "dlq", "list", "-c", "config.yaml", "--json")
    assert code == 0, err
    assert sorted(json.loads(line)["body"] for line in out.splitlines()) == ['{"n": 0}', '{"n": 1}']

    # Nobody at a terminal to confirm: replaying everything is refused without --yes, and nothing moves.
    refused = _replay_all_without_a_terminal(tmp_path)
    assert refused.returncode == 2
    assert "replaying all 2 dead letter(s) needs --yes" in refused.stderr
    code, out, _ = await cli(tmp_path, "dlq", "list", "-c", "config.yaml", "--json")
    assert len(out.splitlines()) == 2
    done = _replay_all_without_a_terminal(tmp_path, "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "replayed 2 message(s)"
