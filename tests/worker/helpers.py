from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.queue import Queue
from cosync_worker.runtime import Runtime
from cosync_worker.testing.waiting import wait_until as wait_until  # re-exported for the tests

_ids = itertools.count(1)

ROOT = Path(__file__).resolve().parents[2]
COSYNC = [sys.executable, "-m", "cosync_worker"]


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a ``cosync`` subprocess: this checkout importable (the test plugins), JSON logs."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "COSYNC__LOGGING__FORMAT": "json", **extra}


async def start_worker(config: Path, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    """``cosync run`` without the relay, logging JSON to its stderr pipe."""
    return await asyncio.create_subprocess_exec(
        *COSYNC,
        "run",
        "--no-relay",
        "-c",
        str(config),
        env=worker_env(**env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def deal_change(deal: int | str, value: str, event_id: int | None = None) -> Event:
    return parse_hubspot_event(
        {
            "eventId": event_id if event_id is not None else next(_ids) + int(time.time() * 1000),
            "subscriptionType": "deal.propertyChange",
            "objectId": deal,
            "propertyName": "dealstage",
            "propertyValue": value,
            "occurredAt": int(time.time() * 1000),
        }
    )


async def send(queue: Queue, events: list[Event]) -> None:
    for i in range(0, len(events), 10):
        await queue.send([(e.to_json(), e.ordering_key, e.dedupe_key) for e in events[i : i + 10]])


async def run_until(rt: Runtime, check: Callable[[], Any], timeout: float = 90.0) -> None:
    """Run the worker (no relay, no schedules) until ``check`` holds, then stop it and wait for its drain."""
    task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
    try:
        await wait_until(check, timeout=timeout)
    finally:
        rt.stop()
        await asyncio.wait_for(task, 30)


async def trail_values(rt: Runtime, deal: int | str) -> list[str]:
    """The values the recorder connector saw for ``deal``, in the order it handled them."""
    trail = await rt.context.store.audit_trail(f"hubspot:deal:{deal}", limit=1000)
    return [e.detail["value"] for e in trail]
