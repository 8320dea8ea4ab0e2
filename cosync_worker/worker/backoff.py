"""Jittered exponential backoff (full jitter between half and the whole step, so retries spread out)."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
    step = min(cap, base * (2 ** max(attempt - 1, 0)))
    return step * (0.5 + 0.5 * (rng or random).random())
