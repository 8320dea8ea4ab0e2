"""One factory fixture that opens a store on either backend: ``sqlite`` on a tmp file, ``dynamodb`` on a fresh
table in moto's server (the ``moto_endpoint`` session fixture from ``cosync_worker.testing``).

Stores opened by ``make_store`` read the test's :class:`FakeClock`, so expiries and refills happen when a test
moves the clock, never because the machine was slow or fast."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiobotocore.session import AioSession, get_session

from cosync_worker.store import Store
from cosync_worker.store.dynamodb import DynamoStore, create_table
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.testing.clock import FakeClock

__all__ = ["Backend", "MakeStore"]

MakeStore = Callable[[], Awaitable[Store]]


@dataclass(frozen=True)
class Backend:
    """Where the stores of one test live; ``spec`` is what a child process needs to open the same store."""

    kind: str
    spec: dict[str, str]


@pytest.fixture(scope="session")
def aio_session() -> AioSession:
    """One botocore session for the test run: loading the service models again per client costs ~0.5 s."""
    return get_session()


@pytest.fixture(params=["sqlite", "dynamodb"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", {"path": str(tmp_path / "state.db")})
    # moto's DynamoDB is not atomic on concurrent conditional writes: the serialized server restores that
    endpoint = str(request.getfixturevalue("serialized_moto_endpoint"))
    table = f"cosync-test-{uuid.uuid4().hex[:12]}"
    await create_table(table, endpoint_url=endpoint, session=request.getfixturevalue("aio_session"))
    return Backend("dynamodb", {"table_name": table, "endpoint_url": endpoint})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_store(backend: Backend, aio_session: AioSession, clock: FakeClock) -> AsyncIterator[MakeStore]:
    """``await make_store()`` → an opened store on this test's backend (every call shares the same data)."""
    opened: list[Store] = []

    async def make() -> Store:
        store: Store
        if backend.kind == "sqlite":
            store = SqliteStore(backend.spec["path"], clock=clock)
        else:
            store = DynamoStore(
                backend.spec["table_name"],
                endpoint_url=backend.spec["endpoint_url"],
                session=aio_session,
                clock=clock,
            )
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()
