"""Exceptions a connector raises to tell the worker what to do with an event (policy by exception type), and
the problem a route handler raises to answer with an RFC 9457 problem (``ProblemError``, naming fields with
``FieldError``)."""

from __future__ import annotations

from .problems import FieldError, ProblemError

__all__ = ["Busy", "FieldError", "PermanentError", "ProblemError", "Retry", "UnknownEventType"]


class Retry(Exception):
    """Try the event again later. ``defer`` overrides the backoff (e.g. a ``Retry-After``)."""

    def __init__(self, reason: str = "retry requested", *, defer: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.defer = defer


class Busy(Retry):
    """Another worker holds the object (its lock, or took over its lease): the event waits its turn. Not a
    failure, so not one of ``max_attempts``: a slow holder must not dead-letter the events queued behind it.
    The waits are bounded on their own (``worker.retry.max_busy_waits``); a lease always frees the lock."""


class PermanentError(Exception):
    """Retrying cannot help (bad input, a 4xx); the event is dead-lettered with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(PermanentError):
    """No connector declared this event type."""
