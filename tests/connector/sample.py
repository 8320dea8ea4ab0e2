"""A connector used by the SDK tests: its clients record opening and closing in ``JOURNAL``; its loop returns
what ``connectors.sample.newest`` says, or fails when ``fail`` is set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from cosync_worker.connector import Connector, Event, Run, client, every, on
from cosync_worker.hooks import ConnectorSpec, hookimpl

JOURNAL: list[str] = []
SIGNPOST = datetime.fromisoformat("2030-01-01T12:00:00+00:00")


class SampleConfig(BaseModel):
    newest: datetime | None = None
    fail: bool = False
    fail_opening: str = ""
    fail_closing: str = ""
    idle: bool = False


class Recorder:
    def __init__(self, name: str, config: SampleConfig) -> None:
        self.name, self.config = name, config

    async def open(self) -> None:
        if self.config.fail_opening == self.name:
            raise ConnectionError(f"{self.name} cannot connect")
        JOURNAL.append(f"open {self.name}")

    async def close(self) -> None:
        JOURNAL.append(f"close {self.name}")
        if self.config.fail_closing == self.name:
            raise ConnectionError(f"{self.name} close failed")


class Sample(Connector):
    name = "sample"
    config_model = SampleConfig

    def configured(self) -> bool:
        return not self.config.idle

    def now(self) -> datetime:
        return SIGNPOST

    @client
    def first(self) -> Recorder:
        return Recorder("first", self.config)

    @client
    async def second(self) -> Recorder:
        return Recorder("second", self.config)

    @client
    def third(self) -> Recorder:
        return Recorder("third", self.config)

    @every("sample_poll", 60, cursor=True)
    async def poll(self, run: Run) -> datetime | None:
        JOURNAL.append(f"poll since={run.since.isoformat() if run.since else None}")
        if self.config.fail:
            raise RuntimeError("remote said no")
        return self.config.newest

    @on("deal.*")
    async def deal(self, event: Event) -> None:
        JOURNAL.append(f"deal {event.object.id} via {sorted(self.clients)}")


cosync_plugin = Sample


class AsyncDeclarations:
    """A hand-written plugin whose declaration hooks are ``async def``: they are awaited, not dropped."""

    @hookimpl
    async def cosync_connector(self) -> ConnectorSpec:
        return ConnectorSpec("async_decl", ("company.*",))

    @hookimpl
    async def cosync_handle_event(self, event: Event) -> None:
        JOURNAL.append(f"async_decl {event.type}")

    @hookimpl
    async def cosync_routes(self, context: Any) -> list[Any]:
        from aiohttp import web

        from cosync_worker.hooks import RouteSpec

        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"hello": "async"})

        return [RouteSpec("GET", "/async-decl", hello, auth=False)]


async_declarations = AsyncDeclarations()
