"""``create_store``: the right backend from a kind and settings, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosync_worker.store import create_store
from cosync_worker.store.dynamodb import DynamoStore
from cosync_worker.store.sqlite import SqliteStore


async def test_sqlite_store_from_settings_opens_and_works(tmp_path: Path) -> None:
    store = create_store("sqlite", path=str(tmp_path / "s.db"))
    assert isinstance(store, SqliteStore)
    await store.open()
    try:
        assert await store.claim_key("k", 60)
    finally:
        await store.close()


def test_dynamodb_store_from_config_style_settings() -> None:
    store = create_store("dynamodb", table="cosync", region="eu-west-1", endpoint_url=None, path=None)
    assert isinstance(store, DynamoStore)
    assert (store.table_name, store.region, store.endpoint_url) == ("cosync", "eu-west-1", None)


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("redis", {}, "unknown store kind 'redis'"),
        ("sqlite", {}, "needs a 'path'"),
        ("sqlite", {"path": "x.db", "table": "t"}, "unknown setting.*table"),
        ("dynamodb", {"region": "us-east-1"}, "needs a 'table_name'"),
        ("dynamodb", {"table": "a", "table_name": "b"}, "disagree"),
    ],
)
def test_bad_settings_are_named(kind: str, settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_store(kind, **settings)  # type: ignore[arg-type]
