"""Typed per-object state for a connector: a pydantic model per object, written by compare-and-set.

Declared on the connector class (``deals = ObjectState(DealState, "deal")``) and reached through the instance
(``await self.deals.update(deal_id, fn)``); keys are ``<connector>:<prefix>:<object id>`` in the store's
versioned records, so two connectors never share one. ``ObjectState(..., legacy=True)`` reads an object never
written here from the store's unversioned state under the same key, so state written before a connector moved
onto the SDK is carried over by its first versioned write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ValidationError

from ..store import Store, update_versioned

__all__ = ["BoundState", "ObjectState", "Snapshot"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Snapshot(Generic[M]):
    """An object's state and the version it was read at (0: never written; ``value`` is then the default)."""

    value: M
    version: int


class BoundState(Generic[M]):
    """The state of one kind of object on one store."""

    def __init__(self, store: Store, model: type[M], prefix: str, legacy: bool = False) -> None:
        self.store, self.model, self.prefix, self.legacy = store, model, prefix, legacy

    def key(self, object_id: str) -> str:
        return f"{self.prefix}:{object_id}"

    def _load(self, data: dict[str, Any] | None) -> M:
        return self.model() if data is None else self.model.model_validate(data)

    async def _legacy(self, object_id: str) -> dict[str, Any] | None:
        return await self.store.get_state(self.key(object_id)) if self.legacy else None

    async def read(self, object_id: str) -> Snapshot[M]:
        found = await self.store.read_versioned(self.key(object_id))
        if found.version == 0:
            return Snapshot(self._load(await self._legacy(object_id)), 0)
        return Snapshot(self._load(found.value), found.version)

    async def write(self, object_id: str, value: M, expected_version: int) -> int:
        """Write if nobody else wrote since ``expected_version``; raises ``ConflictError`` otherwise."""
        return await self.store.write_versioned(
            self.key(object_id), value.model_dump(mode="json"), expected_version
        )

    async def update(self, object_id: str, fn: Callable[[M], M], *, retries: int = 20) -> Snapshot[M]:
        """Apply the pure function ``fn`` to the current state and write it, re-applying on a lost race."""
        legacy = await self._legacy(object_id)
        written = await update_versioned(
            self.store,
            self.key(object_id),
            lambda data: fn(self._load(data if data is not None else legacy)).model_dump(mode="json"),
            retries=retries,
        )
        return Snapshot(self._load(written.value), written.version)


class ObjectState(Generic[M]):
    """A class-level declaration of typed per-object state; every field of ``model`` needs a default (an
    object never written reads as ``model()``)."""

    def __init__(self, model: type[M], prefix: str, *, legacy: bool = False) -> None:
        try:
            model()
        except ValidationError:
            raise TypeError(f"state model {model.__name__} needs a default for every field") from None
        if not prefix:
            raise TypeError("ObjectState needs a key prefix, e.g. ObjectState(DealState, 'deal')")
        self.model, self.prefix, self.legacy = model, prefix, legacy

    @overload
    def __get__(self, obj: None, owner: type) -> ObjectState[M]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> BoundState[M]: ...
    def __get__(self, obj: object | None, owner: type) -> ObjectState[M] | BoundState[M]:
        if obj is None:
            return self
        return BoundState(obj.store, self.model, f"{obj.name}:{self.prefix}", self.legacy)  # type: ignore[attr-defined]
