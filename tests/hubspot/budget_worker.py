"""One OS process of the shared-budget test: fires N GETs through a client drawing on a shared SqliteStore.

Usage: python budget_worker.py BASE_URL TOKEN STORE_PATH DEAL_ID N LIMIT WINDOW_SECONDS
Prints ``{"ok": n, "throttled": k, "failed": f}`` as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys

from cosync_worker.hubspot import HubSpotClient
from cosync_worker.store.sqlite import SqliteStore


async def main(
    url: str, token: str, store_path: str, deal_id: str, n: int, limit: int, window: float
) -> None:
    store = SqliteStore(store_path)
    await store.open()
    ok = failed = 0
    gate = asyncio.Semaphore(20)
    async with HubSpotClient(url, token, store=store, requests_per_10s=limit, window_seconds=window) as hs:

        async def one() -> None:
            nonlocal ok, failed
            async with gate:
                try:
                    await hs.get("deals", deal_id)
                    ok += 1
                except Exception:
                    failed += 1

        await asyncio.gather(*(one() for _ in range(n)))
    await store.close()
    print(json.dumps({"ok": ok, "throttled": hs.throttled, "failed": failed}))


if __name__ == "__main__":
    url, token, path, deal, n, limit, window = sys.argv[1:8]
    asyncio.run(main(url, token, path, deal, int(n), int(limit), float(window)))
