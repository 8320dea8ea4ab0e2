"""Real processes: SIGTERM during a batch loses nothing; bad config refuses to start; the DLQ CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cosync_worker.config import Settings
from cosync_worker.runtime import open_queue, open_store

from .helpers import COSYNC, ROOT, deal_change, send, start_worker, wait_until, worker_env


def _write_config(tmp_path: Path, settings: Settings) -> Path:
    data = settings.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("connectors", {})["recorder"] = {"sleep_seconds": 0.05}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def _count(settings: Settings, keys: list[str]) -> int:
    store = await open_store(settings.store)
    try:
        return sum([len(await store.audit_trail(f"hubspot:deal:{k}", limit=1000)) for k in keys])
    finally:
        await store.close()


async def test_a_worker_whose_log_reader_is_gone_still_works_and_stops(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    """The process reading the worker's stderr went away (a log shipper, a supervisor's pipe): every log line
    now raises BrokenPipeError. It must cost the lines, not the events, and SIGTERM must still stop it
    (the signal handler logged before stopping, so the stop never came)."""
    settings = settings_for(concurrency=4, drain_seconds=5)
    config = _write_config(tmp_path, settings)
    keys = [f"pipe{i}" for i in range(5)]
    queue = await open_queue(settings.queue)
    await send(queue, [deal_change(k, "0") for k in keys])
    read_end, write_end = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        *COSYNC, "run", "--no-relay", "-c", str(config),
        env=worker_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=write_end,
    )  # fmt: skip
    os.close(write_end)
    try:

        async def first_done() -> bool:
            assert proc.returncode is None, "worker exited early"
            return await _count(settings, keys) >= len(keys)

        await wait_until(first_done, timeout=60)
        os.close(read_end)  # the reader is gone
        read_end = -1
        await send(queue, [deal_change(k, "1") for k in keys])

        async def second_done() -> bool:
            assert proc.returncode is None, "worker exited early"
            return await _count(settings, keys) >= 2 * len(keys)

        await wait_until(second_done, timeout=60)
        assert await queue.list_dead_letters() == []
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if read_end >= 0:
            os.close(read_end)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await queue.close()


async def test_sigterm_during_a_batch_loses_nothing(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(concurrency=4, drain_seconds=20)
    config = _write_config(tmp_path, settings)
    keys = [f"sig{i}" for i in range(20)]
    queue = await open_queue(settings.queue)
    await send(queue, [deal_change(k, str(seq)) for seq in range(10) for k in keys])
    await queue.close()

    for round_ in range(2):
        proc = await start_worker(config, tmp_path)
        if round_ == 0:

            async def some_done() -> bool:
                assert proc.returncode is None, "worker exited early"  # noqa: B023 - awaited in this iteration
                return await _count(settings, keys) >= 20

            await wait_until(some_done, timeout=60)
            proc.send_signal(signal.SIGTERM)
        else:

            async def all_done() -> bool:
                assert proc.returncode is None, "worker exited early"  # noqa: B023 - awaited in this iteration
                return await _count(settings, keys) >= 200

            await wait_until(all_done, timeout=90)
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 40)
        assert proc.returncode == 0, err.decode()[-2000:]
        if round_ == 0:
            assert b"worker_draining" in err or b"worker_stopped" in err
            assert await _count(settings, keys) < 200, "the first run was meant to be cut short"

    store = await open_store(settings.store)
    try:
        for k in keys:
            trail = await store.audit_trail(f"hubspot:deal:{k}", limit=1000)
            assert [e.detail["value"] for e in trail] == [str(i) for i in range(10)], k
    finally:
        await store.close()


async def test_sigterm_on_an_idle_local_worker_does_not_wait_out_the_long_poll(tmp_path: Path) -> None:
    # The receive is let finish rather than cancelled (a cancelled claim could hide messages); the local
    # queue ends its poll as soon as the worker stops, so Ctrl-C is not 20 s of waiting.
    from .conftest import make_settings

    config = _write_config(tmp_path, make_settings(tmp_path, "local", wait_seconds=20))
    proc = await start_worker(config, tmp_path)
    assert proc.stderr is not None
    while b"worker_started" not in (line := await asyncio.wait_for(proc.stderr.readline(), 30)):
        assert line, "worker exited before starting"
    await asyncio.sleep(0.5)  # inside the long poll now
    proc.send_signal(signal.SIGTERM)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    assert asyncio.get_running_loop().time() - started < 10  # generous; the poll alone would be ~19.5 s


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COSYNC, *args], env=worker_env(), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "worker:\n  concurrency: lots\n",
            "config error: worker.concurrency: Input should be a valid integer",
        ),
        ("worker:\n  concurency: 4\n", "config error: worker.concurency: unknown key"),
        ("queue: [1, 2]\n", "config error: queue: Input should be a valid dictionary"),
        (
            "connectors:\n  nosuch: {}\n",
            "config error: connectors.nosuch: no installed connector is named 'nosuch'",
        ),
        ("connectors:\n  example:\n    max_history: -1\n", "config error: connectors.example.max_history"),
        ("worker: {concurrency: 4\n", "not valid YAML"),
    ],
)
def test_bad_config_is_refused_with_the_path_named(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "config.yaml").write_text(content)
    check = _cli("config", "check", "-c", "config.yaml", cwd=tmp_path)
    assert check.returncode == 2
    assert expected in check.stderr
    run = _cli("run", "-c", "config.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert expected in run.stderr


def test_config_check_accepts_the_shipped_config() -> None:
    check = _cli("config", "check", "-c", str(ROOT / "config.yaml"), cwd=ROOT)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "config ok"


def test_env_override_and_secret_reference_never_printed(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("hubspot:\n  access_token: env:HS_TOKEN\n")
    env = {**worker_env(), "COSYNC__WORKER__CONCURRENCY": "zero"}
    bad = subprocess.run(
        [*COSYNC, "config", "check", "-c", "config.yaml"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "worker.concurrency" in bad.stderr


def test_plugins_lists_the_example_connector(tmp_path: Path) -> None:
    out = _cli("plugins", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "connector 'example'" in out.stdout
    assert "example_desk_poll every 300s" in out.stdout


async def test_dlq_list_and_replay_cli(tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    settings = settings_for()
    config = _write_config(tmp_path, settings)
    queue = await open_queue(settings.queue)
    await queue.send([("garbage", "g", "g1")])
    msgs = await queue.receive(10, 2)
    await queue.dead_letter(msgs[0], "invalid message: body: is not valid JSON")
    await queue.close()
    listed = _cli("dlq", "list", "--json", "-c", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "invalid message: body: is not valid JSON" in listed.stdout
    replayed = _cli("dlq", "replay", "--yes", "-c", str(config), cwd=tmp_path)
    assert "replayed 1 message(s)" in replayed.stdout
    queue = await open_queue(settings.queue)
    try:
        again = await queue.receive(10, 2)
        assert [m.body for m in again] == ["garbage"]
    finally:
        await queue.close()


def test_sync_once_runs_one_tick_of_a_loop(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "queue: {path: q.db}\nstore: {path: s.db}\nrelay: {enabled: false}\nload_entry_points: false\n"
        "plugin_modules: [cosync_example.plugin]\n"
    )
    # Installed but unconfigured (no desk): the tick is acknowledged untouched. The example's own tests run
    # this command against its desk and check the cursor it keeps.
    ran = _cli("sync", "example_desk_poll", "--once", "-c", "config.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert '"outcome": "ack"' in ran.stdout
    assert _cursor(tmp_path / "s.db", "example:example_desk_poll") is None
    unknown = _cli("sync", "nope", "--once", "-c", "config.yaml", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no sync loop named 'nope'; known loops:" in unknown.stderr
    assert "example_desk_poll" in unknown.stderr


def _cursor(path: Path, name: str) -> str | None:
    import sqlite3

    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])
