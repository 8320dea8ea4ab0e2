"""Partner Central's published quotas: a per-second token bucket plus a rolling 24-hour cap per class.

AWS: "Write actions ... 1 per second; 10,000 per 24 hours", "Read actions ... 10 per second; 100,000 per
24 hours", and "The daily quotas reset on a rolling 24 hour period"
(https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html).

``time_scale`` speeds the emulated clock: with ``time_scale=10`` a 1/s bucket refills ten times a wall
second and the 24 h window lasts 8640 wall seconds, so demos and tests reach the quotas quickly.
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["QuotaBucket"]

DAY_SECONDS = 86_400.0


class QuotaBucket:
    """One class of operations (reads or writes) sharing a rate and a daily cap.

    The per-second quota is enforced as a sliding window (at most ``rate`` calls in any scaled second),
    which is stricter than a token bucket's burst: a client that is never throttled here never exceeds
    the published rate in any one-second window, which is what ``max_rate_observed`` lets tests assert.
    """

    def __init__(self, rate: float, daily_cap: int, time_scale: float = 1.0) -> None:
        if rate <= 0 or daily_cap <= 0 or time_scale <= 0:
            raise ValueError("rate, daily_cap and time_scale must be positive")
        self.rate = rate
        self.daily_cap = daily_cap
        self.time_scale = time_scale
        self._burst = max(1, int(rate))
        self._window = self._burst / rate / time_scale  # wall seconds in which ``_burst`` calls may land
        self._day: deque[float] = deque()  # wall times of accepted calls inside the 24 h window
        self._recent: deque[float] = deque()  # wall times of accepted calls inside the rate window
        self._second: deque[float] = deque()  # wall times of accepted calls inside the last scaled second
        self.max_rate_observed = 0.0
        self.refused = 0  # calls throttled by this quota (an injected fault never reaches it)

    def reset(self) -> None:
        self._day.clear()
        self._recent.clear()
        self._second.clear()
        self.max_rate_observed = 0.0
        self.refused = 0

    @staticmethod
    def _trim(times: deque[float], start: float) -> None:
        while times and times[0] <= start:
            times.popleft()

    def try_acquire(self) -> str | None:
        """Take one call's worth of quota; returns why not (a message) when the call must be throttled."""
        now = time.monotonic()
        self._trim(self._day, now - DAY_SECONDS / self.time_scale)
        if len(self._day) >= self.daily_cap:
            self.refused += 1
            return f"Rate exceeded: the quota of {self.daily_cap} requests per 24 hours is used up"
        self._trim(self._recent, now - self._window)
        if len(self._recent) >= self._burst:
            self.refused += 1
            return f"Rate exceeded: at most {self.rate:g} requests per second"
        self._day.append(now)
        self._recent.append(now)
        self._second.append(now)
        self._trim(self._second, now - 1.0 / self.time_scale)
        self.max_rate_observed = max(self.max_rate_observed, float(len(self._second)))
        return None
