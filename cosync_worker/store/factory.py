"""Build a state store from its kind and settings, without the caller importing a backend module.

The backend module is imported lazily so the SQLite path never loads aiobotocore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .base import Store

__all__ = ["create_store"]

_SQLITE_SETTINGS = {"path"}
_DYNAMO_SETTINGS = {"table_name", "table", "region", "endpoint_url", "session", "max_attempts"}


def create_store(kind: Literal["sqlite", "dynamodb"], **settings: Any) -> Store:
    """A store of ``kind``, not yet opened (``await store.open()`` before use).

    ``sqlite``: ``path``. ``dynamodb``: ``table_name`` (or ``table``, as in the config file), and optionally
    ``region``, ``endpoint_url``, ``session``, ``max_attempts``. ``None`` values count as absent, so a config
    section can be passed as a whole. Unknown kinds, unknown or missing settings raise ``ValueError`` naming them.
    """
    given = {k: v for k, v in settings.items() if v is not None}
    if kind == "sqlite":
        _check_names(kind, given, _SQLITE_SETTINGS)
        if not given.get("path"):
            raise ValueError("store kind 'sqlite' needs a 'path' setting")
        from .sqlite import SqliteStore

        return SqliteStore(Path(given["path"]))
    if kind == "dynamodb":
        _check_names(kind, given, _DYNAMO_SETTINGS)
        if "table" in given and "table_name" in given and given["table"] != given["table_name"]:
            raise ValueError("store kind 'dynamodb': 'table' and 'table_name' disagree; give one")
        table = given.pop("table_name", None) or given.pop("table", None)
        given.pop("table", None)
        if not table:
            raise ValueError("store kind 'dynamodb' needs a 'table_name' setting")
        from .dynamodb import DynamoStore

        return DynamoStore(str(table), **given)
    raise ValueError(f"unknown store kind {kind!r}; expected 'sqlite' or 'dynamodb'")


def _check_names(kind: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(f"store kind {kind!r}: unknown setting(s) {', '.join(unknown)}")
