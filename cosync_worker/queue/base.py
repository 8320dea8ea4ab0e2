"""The ``Queue`` protocol every backend implements (local SQLite, SQS)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["DeadLetter", "Message", "Queue", "QueueUnavailable"]


class QueueUnavailable(RuntimeError):
    """The backend cannot be reached; callers must not acknowledge anything to their own producer.
    ``code``: the backend's own name for the failure, without the queue's address (what a log line carries)."""

    code: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """A received message. ``receipt`` is the backend's handle for ack/nack/extend."""

    id: str
    body: str
    receipt: str
    receive_count: int
    group: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message parked in the dead-letter store, with the reason it was parked."""

    id: str
    body: str
    reason: str
    failed_at: float

    @property
    def connectors(self) -> list[str]:
        """The connectors the parked event is addressed to (those that failed it); empty for a message no
        connector ran (one that does not decode, or an event type nobody declared)."""
        try:
            addressed = json.loads(self.body).get("connectors")
        except (ValueError, AttributeError, RecursionError):
            return []
        return [str(c) for c in addressed] if isinstance(addressed, list) else []


@runtime_checkable
class Queue(Protocol):
    """A durable at-least-once queue with per-group ordering.

    ``send`` returns only once the messages are stored durably (the relay answers HubSpot 2xx after it).
    Within one ``group`` a backend never hands out a message while an earlier one of the same group is in
    flight, so per-object order holds across consumers (SQS FIFO semantics).
    """

    async def send(self, bodies: Sequence[tuple[str, str | None, str | None]]) -> None:
        """Store ``(body, group, dedupe_id)`` triples atomically; a repeated ``dedupe_id`` is dropped."""
        ...

    async def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, stop: asyncio.Event | None = None
    ) -> list[Message]:
        """Claim up to ``max_messages``, waiting up to ``wait_seconds`` for the first one.

        Callers should let a receive finish rather than cancel it (a cancelled claim may still hide messages
        for a visibility timeout); ``stop`` ends the wait early where the backend can (SQS's long poll cannot).
        """
        ...

    async def ack(self, messages: Sequence[Message]) -> None:
        """Delete processed messages (batched)."""
        ...

    async def nack(self, message: Message, delay_seconds: float = 0.0) -> None:
        """Release a message for another attempt after ``delay_seconds``."""
        ...

    async def extend(self, message: Message, seconds: float) -> None:
        """Keep a message invisible for ``seconds`` more (heartbeat for long work)."""
        ...

    async def extend_many(self, messages: Sequence[Message], seconds: float) -> list[Message]:
        """:meth:`extend` for many at once (the worker's heartbeat); returns those no longer held here (gone,
        or, where the backend can tell, handed out again), which the caller stops extending."""
        ...

    async def dead_letter(self, message: Message, reason: str, *, body: str | None = None) -> None:
        """Move a message to the dead-letter store with ``reason``; it leaves the main queue. ``body``, when
        given, is parked instead of the message's own (the event addressed to the connectors that failed)."""
        ...

    async def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Dead-lettered messages, oldest first."""
        ...

    async def replay_dead_letters(self, ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or ``ids``) back to the main queue; returns how many moved."""
        ...

    async def depth(self) -> int:
        """Approximate number of visible messages (for metrics and readiness)."""
        ...

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest message still in the queue (waiting or in flight) was sent, ``None``
        when the queue is empty or the backend cannot tell."""
        ...

    async def ping(self) -> None:
        """Raise :class:`QueueUnavailable` if the backend cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
