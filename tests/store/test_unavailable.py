"""``StoreUnavailable`` when the backend is gone: the error names the store, never a raw driver exception."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cosync_worker.sandbox.stack import free_port
from cosync_worker.store import AuditEntry, StoreUnavailable
from cosync_worker.store.dynamodb import DynamoStore, create_table
from cosync_worker.store.sqlite import SqliteStore


async def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="garbage.db"):
        await SqliteStore(path).open()


async def test_sqlite_directory_missing(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="missing"):
        await SqliteStore(tmp_path / "missing" / "state.db").open()


async def test_dynamodb_endpoint_gone_midway(moto_endpoint: str) -> None:
    """A moto server of our own, stopped under an open store: every call raises StoreUnavailable."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    table = f"gone-{uuid.uuid4().hex[:8]}"
    store = DynamoStore(table, endpoint_url=endpoint, max_attempts=1)
    try:
        await create_table(table, endpoint_url=endpoint)
        await store.open()
        await store.ping()
        assert await store.claim_key("k", 60)
    finally:
        server.stop()
    try:
        with pytest.raises(StoreUnavailable, match=table):
            await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.take_tokens("b", 1.0, 1.0)
        with pytest.raises(StoreUnavailable):
            await store.append_audit(AuditEntry("o", "aws", "x"))
    finally:
        await store.close()


async def test_dynamodb_table_missing(moto_endpoint: str) -> None:
    store = DynamoStore("no-such-table", endpoint_url=moto_endpoint)
    await store.open()
    try:
        with pytest.raises(StoreUnavailable, match="no-such-table does not exist"):
            await store.ping()
        with pytest.raises(StoreUnavailable, match="does not exist"):
            await store.get_cursor("c")
    finally:
        await store.close()
