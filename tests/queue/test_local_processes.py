"""Local-queue behaviour that only a real second process shows: durability across a restart, and claims
from several processes sharing one SQLite file."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from cosync_worker.queue.local import LocalQueue

# Run in a fresh interpreter: opens the file, claims according to argv, prints what it got as JSON.
# Its wall clock can be moved on (``clock.offset``): it jumps past a visibility timeout instead of waiting
# it out, and the parent's timeout can be long enough that a slow interpreter start-up cannot outlast it.
_CHILD = """
import asyncio, json, sys, time
from cosync_worker.queue.local import LocalQueue

class Shifted:
    offset = 0.0
    def time(self):
        return time.time() + self.offset

clock = Shifted()

async def main(path, mode):
    queue = LocalQueue(path, visibility_timeout=1, poll_interval=0.01, clock=clock.time)
    await queue.open()
    out = {}
    if mode == "restart":
        out["depth"] = await queue.depth()
        visible = await queue.receive(10, wait_seconds=0)
        out["visible"] = [[m.body, m.receive_count] for m in visible]
        await queue.ack(visible)
        clock.offset = 120.0  # past the parent's visibility timeout
        back = await queue.receive(10, wait_seconds=5)
        out["came_back"] = [[m.body, m.receive_count] for m in back]
        await queue.ack(back)
        out["left"] = await queue.depth()
    else:
        seen, empty = [], 0
        while empty < 3:
            batch = await queue.receive(3, wait_seconds=0.05)
            empty = 0 if batch else empty + 1
            seen += [m.body for m in batch]
            await queue.ack(batch)
        out["seen"] = seen
    await queue.close()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _child(path: Path, mode: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(path),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_messages_survive_a_restart_and_in_flight_ones_come_back(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = LocalQueue(path, visibility_timeout=60)
    await queue.open()
    await queue.send([("a", "ga", "a"), ("b", "gb", "b"), ("c", "gc", "c")])
    claimed = await queue.receive(1, wait_seconds=0)
    assert [m.body for m in claimed] == ["a"]
    await queue.close()  # "a" stays claimed, as if this process died mid-work

    result = await _child(path, "restart")
    assert result["depth"] == 2
    assert sorted(result["visible"]) == [["b", 1], ["c", 1]]
    # Once its visibility expires, the dead process's message is delivered again, counted as a 2nd receive.
    assert result["came_back"] == [["a", 2]]
    assert result["left"] == 0


async def test_two_processes_never_claim_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = LocalQueue(path, visibility_timeout=30)
    await queue.open()
    bodies = [f"m{i}" for i in range(300)]
    # Half unordered, half spread over groups: both claim paths are exercised.
    await queue.send([(b, None if i % 2 else f"g{i % 7}", b) for i, b in enumerate(bodies)])
    await queue.close()

    first, second = await asyncio.gather(_child(path, "drain"), _child(path, "drain"))
    assert set(first["seen"]).isdisjoint(second["seen"])
    assert sorted(first["seen"] + second["seen"]) == sorted(bodies)
    assert len(first["seen"]) + len(second["seen"]) == len(bodies)


async def test_an_idle_receive_wakes_when_another_connection_sends(tmp_path: Path) -> None:
    """A receive waiting on an empty queue takes a message sent through another connection to the file (the
    relay's, in its own process) as soon as it is committed, not at its next ``poll_interval``: here an hour,
    so only the wake can deliver it within the bound. It watches while traffic is recent (here: an hour after
    the warm-up message, so a slow machine cannot make this test take the quiet path)."""
    path = tmp_path / "queue.db"
    worker = LocalQueue(path, poll_interval=3600, watch_active_seconds=3600)
    relay = LocalQueue(path)
    await worker.open()
    await relay.open()
    try:
        await relay.send([("warm-up", None, None)])  # the file and its log exist, as in a running deployment
        assert [m.body for m in await worker.receive(1, wait_seconds=0)] == ["warm-up"]
        waiting = asyncio.create_task(worker.receive(1, wait_seconds=3600))
        await asyncio.sleep(0.05)  # let it look once and start waiting (the bound below is what matters)
        await relay.send([("webhook", "hubspot:deal:1", None)])
        got = await asyncio.wait_for(waiting, timeout=30)
        assert [m.body for m in got] == ["webhook"]
    finally:
        await worker.close()
        await relay.close()
