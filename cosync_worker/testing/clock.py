"""A clock tests move by hand, so no assertion depends on how fast the machine runs.

Code with an injectable clock takes a :class:`FakeClock` directly (it is callable, and its :meth:`sleep` can
stand in for ``asyncio.sleep``). An emulator that reads ``time.time()``/``time.monotonic()`` itself is driven
with :func:`drive_time`, which replaces only that module's ``time`` name for the test.
"""

from __future__ import annotations

import asyncio
import time
from types import ModuleType

import pytest

__all__ = ["FakeClock", "drive_time"]


class FakeClock:
    """Time that moves only by :meth:`advance` or :meth:`sleep`; starts near the real wall time, since servers
    that stamp with their own clock (moto) are compared with it."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    # Stand-ins for the functions of the ``time`` module, for :func:`drive_time`.
    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the pause and move the clock past it; still a suspension point, as a real sleep is."""
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def drive_time(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> FakeClock:
    """One :class:`FakeClock` that each of ``modules`` reads as its ``time`` module until the test ends."""
    clock = FakeClock()
    for module in modules:
        monkeypatch.setattr(module, "time", clock)
    return clock
