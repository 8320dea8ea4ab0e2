"""A state store for tests of components that keep their state in it (a write scheduler, held writes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cosync_worker.store.sqlite import SqliteStore

__all__ = ["sqlite_store"]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A real SQLite store in the test's directory, opened, and closed after the test."""
    store = SqliteStore(tmp_path / "state.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()
