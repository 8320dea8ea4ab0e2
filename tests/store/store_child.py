"""Run as a separate process by ``test_processes.py``: opens the same store as the test, says "ready" on
stdout, waits for "go" on stdin, then draws from a rate budget or claims keys, and writes what it got as JSON.

    python store_child.py '<json spec>' <out-file>

spec: {"kind": "sqlite"|"dynamodb", "store": {"path"} | {"table_name", "endpoint_url"}, "mode": "draw"|"claim", ...}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from cosync_worker.store import Store, acquire
from cosync_worker.store.dynamodb import DynamoStore
from cosync_worker.store.sqlite import SqliteStore


class DrawClock:
    """The store's wall clock, remembering its last reading: right after a draw, that is the time the store
    drew at, the time the bucket's guarantee is about (a stamp taken afterwards could lag behind it)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        self.last = time.time()
        return self.last


def open_store(kind: str, settings: dict[str, str], clock: DrawClock) -> Store:
    if kind == "sqlite":
        return SqliteStore(settings["path"], clock=clock)
    return DynamoStore(settings["table_name"], endpoint_url=settings["endpoint_url"], clock=clock)


async def main(spec: dict[str, Any], out: str) -> None:
    clock = DrawClock()
    store = open_store(spec["kind"], spec["store"], clock)
    await store.open()
    await store.ping()  # connection set-up happens before "go", so it does not skew the timings
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    result: dict[str, Any] = {}
    if spec["mode"] == "draw":
        stamps: list[float] = []
        end = time.time() + spec["duration"]
        while time.time() < end:
            await acquire(store, spec["budget"], spec["rate"], spec["capacity"])
            stamps.append(clock.last)  # one process draws one at a time, so the last reading is this draw's
        result["stamps"] = stamps
    else:
        keys: list[str] = spec["keys"]
        won = await asyncio.gather(*(store.claim_key(k, 60) for k in keys))
        result["won"] = [k for k, w in zip(keys, won, strict=True) if w]
    await store.close()
    await asyncio.to_thread(Path(out).write_text, json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
