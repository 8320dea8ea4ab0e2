"""Run as a separate process by ``test_primitives.py``: a replica that opens the same store as the test, says
"ready", waits for "go" on stdin, then contends for versioned state or a lock and writes what it saw as JSON.

    python primitives_child.py '<json spec>' <out-file>

spec: {"kind": "sqlite"|"dynamodb", "store": {...}, "mode": "update"|"lock"|"try_lease", "rounds": N,
       "clock_offset": seconds this replica's clock runs ahead (try_lease only)}
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cosync_worker.store import Store, hold_lock, update_versioned
from cosync_worker.store.dynamodb import DynamoStore
from cosync_worker.store.sqlite import SqliteStore


def open_store(spec: dict[str, Any]) -> Store:
    offset = float(spec.get("clock_offset", 0.0))

    def clock() -> float:
        return time.time() + offset

    if spec["kind"] == "sqlite":
        return SqliteStore(spec["store"]["path"], clock=clock)
    return DynamoStore(spec["store"]["table_name"], endpoint_url=spec["store"]["endpoint_url"], clock=clock)


def bump(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {"n": 0, "by": []}
    return {"n": value["n"] + 1, "by": [*value["by"], os.getpid()]}


async def main(spec: dict[str, Any], out: str) -> None:
    store = open_store(spec)
    await store.open()
    await store.ping()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    result: dict[str, Any] = {"pid": os.getpid()}
    if spec["mode"] == "update":
        for _ in range(spec["rounds"]):
            await update_versioned(store, "counter", bump, retries=200)
    elif spec["mode"] == "lock":
        for _ in range(spec["rounds"]):
            async with hold_lock(store, "counter-lock", 60, wait_seconds=60):
                # A bare read-modify-write: only the lock keeps the two replicas from losing an increment.
                state = await store.get_state("plain") or {"n": 0}
                await asyncio.sleep(0.001)
                await store.put_state("plain", {"n": state["n"] + 1})
    else:
        lease = await store.acquire_lease("shared", f"child-{os.getpid()}", 30)
        result["acquired"] = lease is not None
    await store.close()
    await asyncio.to_thread(Path(out).write_text, json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
