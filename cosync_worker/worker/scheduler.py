"""Timed sync loops. A tick is enqueued, not run: its dedupe key ``loop:slot`` makes N replicas produce one
unit of work per time slot (SQS FIFO deduplication, and the processed-key store locally)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import ScheduleSettings
from ..events import schedule_tick
from ..hooks import ConnectorSpec
from ..logs import get_logger
from ..queue import Queue

__all__ = ["Schedule", "Scheduler", "resolve_schedules"]

log = get_logger("cosync.scheduler")


@dataclass(frozen=True)
class Schedule:
    name: str
    interval: float
    jitter: float
    connector: str


def resolve_schedules(
    specs: Iterable[ConnectorSpec], overrides: dict[str, ScheduleSettings]
) -> list[Schedule]:
    """Connector defaults, overridden by ``schedules.<name>`` in config; disabled loops are left out."""
    found: list[Schedule] = []
    for spec in specs:
        for s in spec.schedules:
            o = overrides.get(s.name, ScheduleSettings())
            if not o.enabled:
                continue
            interval = o.interval_seconds or s.interval_seconds
            jitter = s.jitter_seconds if o.jitter_seconds is None else o.jitter_seconds
            found.append(Schedule(s.name, interval, min(jitter, interval / 2), spec.name))
    return found


class Scheduler:
    def __init__(self, queue: Queue, schedules: list[Schedule]) -> None:
        self.queue = queue
        self.schedules = schedules
        self.ticks_sent = 0
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        if not self.schedules:
            return
        await asyncio.gather(*(self._loop(s) for s in self.schedules))

    async def _loop(self, schedule: Schedule) -> None:
        # The current slot fires at start-up; its dedupe key makes that harmless after a restart.
        slot = int(time.time() // schedule.interval)
        while not self._stopping.is_set():
            await self._send(schedule, slot)
            slot += 1
            due = slot * schedule.interval + random.uniform(0, schedule.jitter)
            try:
                await asyncio.wait_for(self._stopping.wait(), max(0.0, due - time.time()))
            except TimeoutError:
                continue

    async def _send(self, schedule: Schedule, slot: int) -> None:
        event = schedule_tick(schedule.name, slot)
        try:
            await self.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
            self.ticks_sent += 1
            log.debug("tick_enqueued", loop=schedule.name, slot=slot)
        except Exception as exc:  # a missed tick is caught by the next slot; never kill the loop
            log.warning("tick_enqueue_failed", loop=schedule.name, error=f"{type(exc).__name__}: {exc}")
