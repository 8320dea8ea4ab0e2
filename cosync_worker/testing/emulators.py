"""For fixtures that build their own emulator: ``started`` runs one for the length of an ``async with``
(``started_holding`` one that holds answers until ``released``), and ``aws_quotas`` gives Partner Central
AWS's own quotas on a scaled clock.

A test of pacing or throttling needs the real quota (1 write/s, 10 reads/s) to bind, which the plugin's
``partnercentral_emulator`` raises out of the way; scaling the clock keeps it binding without the test
waiting for real seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypedDict, TypeVar

__all__ = ["ScaledQuotas", "aws_quotas", "started", "started_holding"]


class _Emulator(Protocol):
    async def start(self) -> Any: ...

    async def stop(self) -> None: ...


class _Holding(_Emulator, Protocol):
    released: asyncio.Event


E = TypeVar("E", bound=_Emulator)
H = TypeVar("H", bound=_Holding)


class ScaledQuotas(TypedDict):
    """Keyword arguments of ``PartnerCentralEmulator``."""

    write_rate: float
    read_rate: float
    time_scale: float
    task_seconds: float


def aws_quotas(time_scale: float) -> ScaledQuotas:
    """AWS's Partner Central quotas (https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html)
    on a clock ``time_scale`` times faster; tasks finish in 50 ms as in the plugin's fixture."""
    return {"write_rate": 1.0, "read_rate": 10.0, "time_scale": time_scale, "task_seconds": 0.05}


@asynccontextmanager
async def started(emulator: E) -> AsyncIterator[E]:
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@asynccontextmanager
async def started_holding(emulator: H) -> AsyncIterator[H]:
    """``started``, setting ``released`` before the stop: an answer still held would keep it waiting."""
    async with started(emulator):
        try:
            yield emulator
        finally:
            emulator.released.set()
