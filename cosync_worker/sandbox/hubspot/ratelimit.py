"""Per-token rolling windows: the burst limit (requests per ten seconds) and the search limit (per second).

429 body and ``X-HubSpot-RateLimit-*`` headers per https://developers.hubspot.com/docs/api/usage-details
(errorType RATE_LIMIT, policyName TEN_SECONDLY_ROLLING or SECONDLY).
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque

from .errors import HubSpotError

__all__ = ["RateLimiter", "RollingWindow", "throttled"]

DAILY_LIMIT = 500_000


class RollingWindow:
    """At most ``limit`` events in any ``seconds``-long window, per key."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[float]] = {}

    def _trim(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return events

    def take(self, key: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, seconds until a slot frees up)."""
        now = time.monotonic()
        events = self._trim(key, now)
        if len(events) >= self.limit:
            return False, 0, events[0] + self.seconds - now
        events.append(now)
        return True, self.limit - len(events), 0.0

    def clear(self) -> None:
        self._events.clear()


class RateLimiter:
    def __init__(self, burst_limit: int, burst_window_seconds: float, search_per_second: int) -> None:
        self.burst = RollingWindow(burst_limit, burst_window_seconds)
        self.search = RollingWindow(search_per_second, 1.0)
        self.daily: dict[str, int] = {}

    def clear(self) -> None:
        self.burst.clear()
        self.search.clear()
        self.daily.clear()

    def admit(self, token: str, is_search: bool) -> dict[str, str]:
        """Headers for the answer, or raises the 429 :class:`HubSpotError`."""
        window = self.search if is_search else self.burst
        allowed, remaining, wait = window.take(token)
        used = self.daily.get(token, 0) + (1 if allowed else 0)
        self.daily[token] = used
        headers = {
            "X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(DAILY_LIMIT - used, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(window.limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }
        if allowed:
            return headers
        label = "secondly" if is_search else "ten_secondly_rolling"
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        raise throttled(headers=headers, label=label)


def throttled(
    retry_after: int = 1, label: str = "ten_secondly_rolling", *, headers: dict[str, str] | None = None
) -> HubSpotError:
    """HubSpot's 429: ``Retry-After`` plus the body with ``category: RATE_LIMITS`` and the policy that hit."""
    policy = "SECONDLY" if label == "secondly" else "TEN_SECONDLY_ROLLING"
    return HubSpotError(
        429,
        "RATE_LIMIT",
        "",
        headers=headers or {"Retry-After": str(retry_after)},
        body={
            "status": "error",
            "message": f"You have reached your {label} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
            "category": "RATE_LIMITS",
        },
    )
