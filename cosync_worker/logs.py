"""structlog set-up: JSON lines (console renderer on a terminal) with secrets redacted on every line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger", "redact"]

_SECRET_KEYS = re.compile(r"(token|secret|password|authorization|signature|api[_-]?key|credential)", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_REDACTED = "***"


def redact(value: Any, key: str = "") -> Any:
    """Mask values under secret-looking keys and bearer tokens inside strings, recursively."""
    if key and _SECRET_KEYS.search(key) and not isinstance(value, dict | list):
        return _REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1" + _REDACTED, value)
    return value


def _redaction_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = redact(event_dict[key], key if key != "event" else "")
    return event_dict


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a caller that
    swaps it for a while (click's test runner, pytest's capture) would otherwise leave every later line
    going to a closed stream. A line that cannot be written (the reader of a stderr pipe is gone) is dropped:
    a log line must never fail the event, the drain or the stop it describes."""

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text)
        except (OSError, ValueError):  # BrokenPipeError; ValueError: the stream was closed
            return 0

    def flush(self) -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            return  # as in write(): nowhere to report it


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Logs go to stderr (stdout is kept for machine-readable output such as ``cosync sandbox``)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redaction_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "cosync") -> Any:
    return structlog.get_logger(name)
