"""A counting proxy in front of the fault suite's DynamoDB (moto): how many store calls the replicas make, and
for what, so a run can report store calls per Partner Central write (issue 22: the shared budgets and the
write scheduler must cost the store a small fraction of the remote calls they pace).

Opt-in (``COSYNC_FAULTS_STORE_METER=1``): forwarding every store call through this process costs it CPU the
run would otherwise give the relay and the emulators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

__all__ = ["StoreMeter", "store_meter"]

# What a call is for, recognised by the store keys its body names (first match wins).
PURPOSES = (
    ("write_scheduler", (b":waiting", b":alive:")),
    ("answer_spacing", (b":in-flight",)),
    ("write_budget", (b":writes", b":daily")),
    ("read_budget", (b":reads", b"hubspot")),
)
_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "date", "server"}


class StoreMeter:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.by_purpose: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.url = ""
        self._session: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        purpose = next((p for p, marks in PURPOSES if any(m in body for m in marks)), "other")
        self.by_purpose[purpose] += 1
        self.by_operation[request.headers.get("X-Amz-Target", "?").rpartition(".")[2]] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP | {"host"}}
        assert self._session is not None
        async with self._session.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            data = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
            return web.Response(status=resp.status, body=data, headers=out)

    def figures(self, pc_writes: int) -> dict[str, object]:
        total = sum(self.by_purpose.values())
        return {
            "store_calls": total,
            "store_calls_per_pc_write": round(total / max(pc_writes, 1), 1),
            "store_calls_by_purpose": dict(self.by_purpose.most_common()),
            "store_calls_by_purpose_per_pc_write": {
                k: round(n / max(pc_writes, 1), 2) for k, n in self.by_purpose.most_common()
            },
            "store_calls_by_operation": dict(self.by_operation.most_common()),
        }


@asynccontextmanager
async def store_meter(target: str) -> AsyncIterator[StoreMeter]:
    meter = StoreMeter(target)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", meter._forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    meter.url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        meter._session = session
        try:
            yield meter
        finally:
            await runner.cleanup()
