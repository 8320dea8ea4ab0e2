"""What a hook receives: configuration, the store, the queue and the shared clients of the process."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..config import Settings
    from ..events import Event
    from ..queue import Queue
    from ..store import Store
    from .types import ConflictObjectSpec

__all__ = ["Context"]


@dataclass
class Context:
    """One per process. ``services`` holds shared clients by name (``"hubspot"``, ``"notify"``, ...) so that
    one client object per remote service owns its rate limit, retries and metrics."""

    settings: Settings
    store: Store
    queue: Queue
    connector_configs: dict[str, BaseModel] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    # What the plugins declared through ``cosync_conflict_objects``, by connector (filled when routes are
    # collected, so the core's conflict routes can name each connector's fields).
    conflict_objects: dict[str, ConflictObjectSpec] = field(default_factory=dict)
    # Called when this process's worker starts (``Runtime.run``), not in a process that only serves the relay
    # or runs a CLI command: work that belongs beside the worker (a connector's drain of held writes).
    worker_starts: list[Callable[[], None]] = field(default_factory=list)

    def config(self, connector: str) -> Any:
        """The validated config section ``connectors.<connector>`` (its declared model)."""
        return self.connector_configs[connector]

    def service(self, name: str) -> Any:
        try:
            return self.services[name]
        except KeyError:
            raise LookupError(f"service {name!r} is not configured in this process") from None

    async def enqueue(self, events: Iterable[Event]) -> None:
        """Put follow-up work on the queue (ordered by each event's ordering key, deduplicated)."""
        await self.queue.send([(e.to_json(), e.ordering_key, e.dedupe_key) for e in events])
