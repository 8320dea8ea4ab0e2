"""The ``Retry-After`` header of a throttled or unavailable HTTP answer, in seconds.

RFC 9110 §10.2.3 allows a number of seconds or an HTTP date; HubSpot and Google both send it on 429/503.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

__all__ = ["retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, never negative; ``None`` when the header is absent or unreadable."""
    raw = headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())
