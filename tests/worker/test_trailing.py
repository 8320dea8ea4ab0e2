"""cosync_worker.trailing: writes a handler leaves to finish after its event settled count as the process's
work (``pending``, and so ``Worker.idle``), are hurried and waited for by a graceful stop (``finish``), and a
failure is logged by name, never with its values."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from cosync_worker.trailing import finish, pending, start_trailing

BOUND = 10.0


async def test_finish_hurries_what_waits_and_waits_for_it() -> None:
    hurried = asyncio.Event()
    done: list[str] = []

    async def stamp() -> None:
        await hurried.wait()  # a batch window that only a hurry ends here
        done.append("stamp")

    start_trailing(stamp(), what="push_stamp", hurry=hurried.set)
    await asyncio.sleep(0)
    assert pending() == 1
    assert await asyncio.wait_for(finish(BOUND), BOUND) == 0
    assert done == ["stamp"] and pending() == 0


async def test_finish_cancels_what_outlasts_its_bound() -> None:
    async def stuck() -> None:
        await asyncio.Event().wait()  # a HubSpot call that never answers

    start_trailing(stuck(), what="push_stamp")
    assert await asyncio.wait_for(finish(0.01), BOUND) == 1
    assert pending() == 0


async def test_a_failure_is_logged_by_name_without_values() -> None:
    async def failing() -> None:
        raise RuntimeError("HubSpot answered 500 for token s3cr3t")

    with capture_logs() as logs:
        task = start_trailing(failing(), what="push_stamp")
        await asyncio.wait_for(task, BOUND)
    [entry] = [e for e in logs if e["event"] == "trailing_write_failed"]
    assert entry["what"] == "push_stamp" and entry["error"] == "RuntimeError"
    assert "s3cr3t" not in repr(logs)
    assert pending() == 0
