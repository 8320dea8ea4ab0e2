"""Relay intake: signed HubSpot webhook batches over loopback into a relay backed by a LocalQueue on a tmp file.

The relay runs in its own process (as in production) so the load generator does not share its event loop.
Prints events/s accepted and p50/p99 request latency; bounded by ``--batches`` and ``--cap`` seconds.
Run: ``.venv/bin/python bench/relay_intake.py`` (target: >= 1,000 events/s with p99 <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from cosync_worker.config import Settings
from cosync_worker.hooks import Context, PluginManager
from cosync_worker.queue.local import LocalQueue
from cosync_worker.relay import RelayServer, create_app
from cosync_worker.relay.signature import sign_v3
from cosync_worker.store.sqlite import SqliteStore

SECRET = "bench-client-secret"


async def serve(workdir: Path) -> None:
    """Child process: run the relay until stdin closes; print its URL first."""
    settings = Settings.model_validate(
        {"hubspot": {"client_secret": SECRET}, "relay": {"host": "127.0.0.1", "port": 0}}
    )
    queue = LocalQueue(workdir / "queue.db")
    store = SqliteStore(workdir / "state.db")
    await queue.open()
    await store.open()
    pm = PluginManager()
    context = Context(settings=settings, store=store, queue=queue)
    app = create_app(settings=settings, queue=queue, store=store, plugins=pm, context=context)
    server = RelayServer(app, "127.0.0.1", 0)
    print(await server.start(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()
    print(await queue.depth(), flush=True)
    await queue.close()
    await store.close()


def make_batch(start: int, size: int) -> bytes:
    return json.dumps(
        [
            {
                "eventId": start + i,
                "subscriptionId": 1,
                "portalId": 62515,
                "occurredAt": 1_700_000_000_000,
                "subscriptionType": "deal.propertyChange",
                "objectId": (start + i) % 5000,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
            }
            for i in range(size)
        ]
    ).encode()


async def load(url: str, batches: int, size: int, concurrency: int, cap: float) -> None:
    latencies: list[float] = []
    accepted = 0
    failures: dict[int, int] = {}
    target = url + "/webhooks/hubspot"
    next_batch = iter(range(batches))
    deadline = time.monotonic() + cap

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        for n in next_batch:
            if time.monotonic() > deadline:
                return
            body = make_batch(n * size + 1, size)
            ts = str(int(time.time() * 1000))
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", target, body, ts),
                "X-HubSpot-Request-Timestamp": ts,
            }
            started = time.perf_counter()
            async with session.post(target, data=body, headers=headers) as resp:
                await resp.read()
                latencies.append(time.perf_counter() - started)
                if resp.status == 200:
                    accepted += size
                else:
                    failures[resp.status] = failures.get(resp.status, 0) + 1

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        started = time.perf_counter()
        await asyncio.gather(*(sender(s) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    print(f"batches sent      {len(latencies)} x {size} events, {concurrency} concurrent senders")
    print(f"elapsed           {elapsed:.2f} s (cap {cap:g} s)")
    print(f"events accepted   {accepted} ({accepted / elapsed:,.0f} events/s)")
    print(f"latency p50/p99   {q[49] * 1000:.1f} ms / {q[98] * 1000:.1f} ms per batch")
    print(f"refused           {failures or 'none'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10, help="events per batch")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cap", type=float, default=20.0, help="stop sending after this many seconds")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        await serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            tmp,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None and child.stdin is not None
        try:
            url = (await asyncio.wait_for(child.stdout.readline(), 30)).decode().strip()
            await load(url, args.batches, args.size, args.concurrency, args.cap)
        finally:
            child.stdin.close()
            depth = (await asyncio.wait_for(child.stdout.readline(), 30)).decode().strip()
            await asyncio.wait_for(child.wait(), 30)
        print(f"queue depth after {depth} (one message per event)")


if __name__ == "__main__":
    asyncio.run(main())
