"""Build an (unopened) queue backend by name; kept dumb so config wiring lives in one place (the runtime).

Call ``await queue.open()`` on the result before use and ``await queue.close()`` after.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from .base import Queue

__all__ = ["QUEUE_KINDS", "create_queue"]

QUEUE_KINDS: tuple[str, ...] = ("local", "sqs")


def create_queue(kind: Literal["local", "sqs"], **settings: Any) -> Queue:
    """A ``LocalQueue`` (``path=...`` required) or an ``SqsQueue`` (``queue_url=...`` required).

    Unknown kinds, unknown settings and missing required settings raise ``ValueError`` naming the problem,
    so a typo in a config file reads as a config error and not as a ``TypeError`` deep in a constructor.
    """
    # Imported lazily: the SQS backend pulls in aiobotocore, which the embedded default never needs.
    cls: type[Any]
    if kind == "local":
        from .local import LocalQueue

        cls, required = LocalQueue, "path"
    elif kind == "sqs":
        from .sqs import SqsQueue

        cls, required = SqsQueue, "queue_url"
    else:
        raise ValueError(f"queue kind {kind!r} is not one of {', '.join(QUEUE_KINDS)}")

    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(settings) - set(params) - {"self"})
    if unknown:
        raise ValueError(f"queue kind {kind!r}: unknown setting(s) {', '.join(unknown)}")
    if settings.get(required) in (None, ""):
        raise ValueError(f"queue kind {kind!r}: setting {required!r} is required")
    positional = settings.pop(required)
    queue: Queue = cls(positional, **settings)
    return queue
