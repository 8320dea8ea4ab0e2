"""A progress bar on stderr whose ETA comes from the remote's write quota when the work is quota-bound
(``seconds_per_action``: a creation's writes over the per-second quota), else from the pace so far."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 30


class Progress:
    def __init__(
        self, label: str, total: int, stream: TextIO | None, seconds_per_action: float | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.per_action = seconds_per_action
        self.done = 0
        self.started = time.monotonic()
        self._tty = bool(stream is not None and stream.isatty())
        self._last_tenth = -1

    def eta(self) -> float:
        left = self.total - self.done
        if self.per_action is not None:
            return left * self.per_action
        elapsed = time.monotonic() - self.started
        return left * elapsed / self.done if self.done else 0.0

    def line(self) -> str:
        filled = int(_WIDTH * self.done / self.total) if self.total else _WIDTH
        bar = "#" * filled + "." * (_WIDTH - filled)
        return f"{self.label:<24} [{bar}] {self.done}/{self.total} eta {self.eta():.0f}s"

    def advance(self) -> None:
        self.done += 1
        if self.stream is None:
            return
        if self._tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
            return
        tenth = 10 * self.done // max(1, self.total)
        if tenth != self._last_tenth:  # a log, not a terminal: one line per tenth
            self._last_tenth = tenth
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self._tty:
            self.stream.write("\n")
            self.stream.flush()
