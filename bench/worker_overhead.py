"""Worker overhead: 20,000 events through the local SQLite queue with a no-op connector.

Prints events/s end to end (enqueue excluded) and p50/p99 of the per-event dispatch overhead (decode,
processed-key check, hook call, processed-key record). Run: ``.venv/bin/python bench/worker_overhead.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cosync_worker.config import Settings
from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.hooks import ConnectorSpec, PluginManager, hookimpl
from cosync_worker.runtime import Runtime
from cosync_worker.worker import Dispatcher, Outcome


class NoOp:
    @hookimpl
    def cosync_connector(self) -> ConnectorSpec:
        return ConnectorSpec(name="noop", event_types=("deal.*",))

    @hookimpl
    def cosync_handle_event(self, event: Event) -> None:
        return None


class TimedDispatcher(Dispatcher):
    """Times what the worker adds per event: decoding and dispatching (the hook itself does nothing)."""

    samples: list[float]
    decode_times: dict[str, float]

    def decode(self, body: str) -> Event | Outcome:
        started = time.perf_counter()
        result = super().decode(body)
        if isinstance(result, Event):
            self.decode_times[result.id] = time.perf_counter() - started
        return result

    async def dispatch(self, event: Event, *, done: set[str] | None = None, force: bool = False) -> Outcome:
        started = time.perf_counter()
        try:
            return await super().dispatch(event, done=done, force=force)
        finally:
            self.samples.append(time.perf_counter() - started + self.decode_times.pop(event.id, 0.0))


def _event(i: int) -> Event:
    return parse_hubspot_event(
        {
            "eventId": i,
            "subscriptionType": "deal.propertyChange",
            "objectId": i % 500,
            "propertyName": "amount",
            "propertyValue": str(i),
            "occurredAt": int(time.time() * 1000),
        }
    )


async def main(count: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate(
            {
                "queue": {"kind": "local", "path": str(Path(tmp) / "q.db")},
                "store": {"kind": "sqlite", "path": str(Path(tmp) / "s.db")},
                "worker": {"concurrency": concurrency, "wait_seconds": 0.5},
                "relay": {"enabled": False},
            }
        )
        pm = PluginManager()
        pm.register(NoOp(), name="noop")
        async with Runtime(settings, plugins=pm, entry_points=False) as rt:
            t0 = time.perf_counter()
            events = [_event(i) for i in range(count)]
            for i in range(0, count, 100):
                await rt.context.queue.send(
                    [(e.to_json(), e.ordering_key, e.dedupe_key) for e in events[i : i + 100]]
                )
            enqueue = time.perf_counter() - t0
            timed = TimedDispatcher(rt.worker.dispatcher.connectors, rt.context, 3600)
            timed.samples, timed.decode_times = [], {}
            rt.worker.dispatcher = timed
            task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
            start = time.perf_counter()
            while rt.worker.processed < count and time.perf_counter() - start < 300:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - start
            rt.stop()
            await task
        samples = sorted(timed.samples)
        p50 = statistics.median(samples) * 1000
        p99 = samples[int(len(samples) * 0.99) - 1] * 1000
        print(f"events: {rt.worker.processed} of {count}, concurrency {concurrency}")
        print(f"enqueue: {count / enqueue:,.0f} events/s ({enqueue:.2f} s, batches of 100)")
        print(f"throughput: {rt.worker.processed / elapsed:,.0f} events/s ({elapsed:.2f} s)")
        print(f"dispatch overhead: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.concurrency))
