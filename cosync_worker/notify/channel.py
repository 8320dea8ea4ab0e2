"""The channel contract: what a notification channel plugin builds and the service calls.

A channel receives a batch of :class:`Delivery` items and sends each (in as few calls as its API allows).
Each item carries the channel's own ledger ``record`` for that notice, persisted in the state store by
``checkpoint``: a channel writes its progress (``task_phase``, ``task_id``, ...) there *before and after*
each remote write so that a retry, a restart or another replica resumes instead of repeating it.
Raising from :meth:`Channel.deliver` means "retry the items not yet done"; the service retries and, if the
channel keeps failing, records the failure without ever failing the sync that triggered the notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .notice import Message

__all__ = ["Channel", "Checkpoint", "Delivery"]


@dataclass
class Delivery:
    message: Message
    record: dict[str, Any] = field(default_factory=dict)
    # Extra deals a digest task is associated with (the message's own deal always is).
    extra_deal_ids: tuple[str, ...] = ()
    # A digest is one task per owner; the items it lists already have their own timeline context.
    with_note: bool = True


Checkpoint = Callable[[Sequence[Delivery]], Awaitable[None]]


@runtime_checkable
class Channel(Protocol):
    name: str

    async def deliver(self, items: Sequence[Delivery], checkpoint: Checkpoint) -> None:
        """Send every item whose ``record`` does not say it was sent; raise to have the rest retried."""
        ...

    async def close(self) -> None:
        """Release clients; called once when the service closes."""
        ...
