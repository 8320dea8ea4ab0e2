"""Exceptions a connector raises to tell the worker what to do with an event (policy by exception type)."""

from __future__ import annotations

__all__ = ["PermanentError", "Retry", "UnknownEventType"]


class Retry(Exception):
    """Try the event again later. ``defer`` overrides the backoff (e.g. a ``Retry-After``)."""

    def __init__(self, reason: str = "retry requested", *, defer: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.defer = defer


class PermanentError(Exception):
    """Retrying cannot help (bad input, a 4xx); the event is dead-lettered with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(PermanentError):
    """No connector declared this event type."""
