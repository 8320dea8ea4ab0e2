"""One factory fixture that opens a store on either backend: ``sqlite`` on a tmp file, ``dynamodb`` on a fresh
table in moto's server (the ``moto_endpoint`` session fixture from ``cosync_worker.testing``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cosync_worker.store import Store
from cosync_worker.store.dynamodb import DynamoStore, create_table
from cosync_worker.store.sqlite import SqliteStore

__all__ = ["Backend", "MakeStore"]

MakeStore = Callable[[], Awaitable[Store]]


@dataclass(frozen=True)
class Backend:
    """Where the stores of one test live; ``spec`` is what a child process needs to open the same store."""

    kind: str
    spec: dict[str, str]


@pytest.fixture(params=["sqlite", "dynamodb"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", {"path": str(tmp_path / "state.db")})
    endpoint = str(request.getfixturevalue("moto_endpoint"))
    table = f"cosync-test-{uuid.uuid4().hex[:12]}"
    await create_table(table, endpoint_url=endpoint)
    return Backend("dynamodb", {"table_name": table, "endpoint_url": endpoint})


def open_store_sync_spec(backend: Backend) -> Store:
    if backend.kind == "sqlite":
        return SqliteStore(backend.spec["path"])
    return DynamoStore(backend.spec["table_name"], endpoint_url=backend.spec["endpoint_url"])


@pytest.fixture
async def make_store(backend: Backend) -> AsyncIterator[MakeStore]:
    """``await make_store()`` → an opened store on this test's backend (every call shares the same data)."""
    opened: list[Store] = []

    async def make() -> Store:
        store = open_store_sync_spec(backend)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()
