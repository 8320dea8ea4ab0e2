"""A real relay on 127.0.0.1 backed by a real LocalQueue and SqliteStore on tmp files, plus an independent
signer written from HubSpot's documentation (not from cosync's code), so a shared bug cannot hide."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from cosync_worker.config import Settings
from cosync_worker.hooks import ConnectorSpec, Context, PluginManager, hookimpl
from cosync_worker.queue.local import LocalQueue
from cosync_worker.relay import RelayServer, create_app
from cosync_worker.store.sqlite import SqliteStore

SECRET = "test-client-secret-5f1c"
TOKENS = ("token-alpha-1", "token-beta-2")

# https://developers.hubspot.com/docs/api/webhooks/validating-requests : these escapes are decoded in the URI
_DOC_DECODED = [
    "%3A:",
    "%2F/",
    "%3F?",
    "%40@",
    "%21!",
    "%24$",
    "%27'",
    "%28(",
    "%29)",
    "%2A*",
    "%2C,",
    "%3B;",
]


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    for pair in _DOC_DECODED:
        uri = uri.replace(pair[:3], pair[3:]).replace(pair[:3].lower(), pair[3:])
    source = f"{method}{uri}".encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def hubspot_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def hubspot_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256((secret + method + uri).encode() + body).hexdigest()


def batch(n: int, start: int = 1, sub: str = "deal.propertyChange") -> bytes:
    return json.dumps(
        [
            {
                "eventId": start + i,
                "subscriptionId": 7,
                "portalId": 62515,
                "occurredAt": 1_700_000_000_000 + i,
                "subscriptionType": sub,
                "attemptNumber": 0,
                "objectId": 1000 + i,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
            }
            for i in range(n)
        ]
    ).encode()


class Clock:
    """The wall clock the relay checks signature age against; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class ConnectorPlugin:
    """One installed connector, so ``/readyz`` can be ready."""

    @hookimpl
    def cosync_connector(self) -> ConnectorSpec:
        return ConnectorSpec(name="test-connector", event_types=("deal.*",))


@dataclass
class Relay:
    url: str
    queue: LocalQueue
    store: SqliteStore
    clock: Clock
    settings: Settings
    session: aiohttp.ClientSession
    server: RelayServer
    plugins: PluginManager

    async def post_signed(
        self, path: str, body: bytes, *, secret: str = SECRET, ts_ms: int | None = None, **headers: str
    ) -> aiohttp.ClientResponse:
        ts = int(self.clock() * 1000) if ts_ms is None else ts_ms
        uri = self.url + path
        sig = hubspot_v3(secret, "POST", uri, body, ts)
        hdrs = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sig,
            "X-HubSpot-Request-Timestamp": str(ts),
            **headers,
        }
        return await self.session.post(uri, data=body, headers=hdrs)

    async def enqueued(self) -> list[dict[str, Any]]:
        """Bodies of everything on the queue (claims them, which is fine at the end of a test)."""
        found: list[dict[str, Any]] = []
        while batch_ := await self.queue.receive(max_messages=10, wait_seconds=0):
            found += [json.loads(m.body) for m in batch_]
        return found


RelayFactory = Callable[..., Awaitable[Relay]]


@dataclass
class RawAnswer:
    """What a raw connection received until the relay closed it (or ``within`` ran out: ``closed`` False)."""

    data: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int:
        return int(self.data.split(b" ", 2)[1]) if self.data.startswith(b"HTTP/1.") else 0

    @property
    def body(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[2]


async def raw_http(
    url: str, head: bytes, *, trickle: bytes = b"", every: float = 0.05, within: float = 10.0
) -> RawAnswer:
    """Send ``head`` on a fresh TCP connection, then ``trickle`` one byte per ``every`` seconds (over and
    over) until the relay closes the connection; ``within`` bounds the whole exchange (generously)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)

    async def drip() -> None:
        with contextlib.suppress(ConnectionError):
            while trickle:
                for byte in trickle:
                    await asyncio.sleep(every)
                    writer.write(bytes([byte]))
                    await writer.drain()

    started = time.monotonic()
    writer.write(head)
    await writer.drain()
    dripping = asyncio.create_task(drip())
    received = b""
    closed = False
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                received += chunk
            closed = True
    except TimeoutError:
        pass
    except ConnectionError:
        closed = True
    finally:
        dripping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dripping
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return RawAnswer(received, closed, time.monotonic() - started)


@dataclass
class _Cleanup:
    items: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@pytest.fixture
async def make_relay(tmp_path: Path) -> AsyncIterator[RelayFactory]:
    cleanup = _Cleanup()
    counter = iter(range(1000))

    async def build(
        *,
        relay: dict[str, Any] | None = None,
        plugins: list[object | ModuleType] = (),
        queue: Any = None,
        hubspot: dict[str, Any] | None = None,
        connector: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> Relay:
        n = next(counter)
        settings = Settings.model_validate(
            {
                "queue": {"kind": "local", "path": str(tmp_path / f"queue{n}.db")},
                "store": {"kind": "sqlite", "path": str(tmp_path / f"state{n}.db")},
                "hubspot": hubspot if hubspot is not None else {"client_secret": SECRET},
                "relay": {"host": "127.0.0.1", "port": 0, "api_tokens": list(TOKENS), **(relay or {})},
                **(extra or {}),
            }
        )
        q = queue
        if q is None:
            q = LocalQueue(settings.queue.path)
            await q.open()
            cleanup.items.append(q.close)
        store = SqliteStore(settings.store.path)
        await store.open()
        cleanup.items.append(store.close)
        pm = PluginManager()
        if connector:
            pm.register(ConnectorPlugin())
        for plugin in plugins:
            pm.register(plugin)
        context = Context(settings=settings, store=store, queue=q)
        clock = Clock()
        app = create_app(settings=settings, queue=q, store=store, plugins=pm, context=context, clock=clock)
        server = RelayServer(app, "127.0.0.1", 0)
        url = await server.start()
        cleanup.items.append(server.stop)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        cleanup.items.append(session.close)
        return Relay(url, q, store, clock, settings, session, server, pm)

    yield build
    for close in reversed(cleanup.items):
        await close()
