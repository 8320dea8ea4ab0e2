"""Queue backends behind one protocol: ``local`` (SQLite, the embedded default) and ``sqs``."""

from .base import DeadLetter, Message, Queue, QueueUnavailable

__all__ = ["DeadLetter", "Message", "Queue", "QueueUnavailable"]
