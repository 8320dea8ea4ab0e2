"""A per-emulator request-rate limit, so clients can be tested against 429 + ``Retry-After``.

Both cloud emulators (Microsoft and Google) use it; the real services throttle per tenant/partner, which in
a single-tenant emulator is the same thing as throttling every request.
"""

from __future__ import annotations

import math
import time
from collections import deque

__all__ = ["Throttle"]


class Throttle:
    """Sliding one-second window: at most ``rate_per_second`` admitted requests in any second."""

    def __init__(self, rate_per_second: float) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate_per_second = rate_per_second
        self._admitted: deque[float] = deque()

    def admit(self) -> float:
        """Admit one request and return 0, or return the seconds the caller must wait (>0)."""
        now = time.monotonic()
        while self._admitted and now - self._admitted[0] >= 1.0:
            self._admitted.popleft()
        if len(self._admitted) >= self.rate_per_second:
            return max(1.0 - (now - self._admitted[0]), 0.001)
        self._admitted.append(now)
        return 0.0

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """``Retry-After`` is whole seconds (RFC 9110); never 0, so a client always backs off."""
        return str(max(1, math.ceil(wait)))

    def clear(self) -> None:
        self._admitted.clear()
