"""``Retry-After`` as HubSpot and Google send it: seconds or an HTTP date; anything else is ignored."""

from __future__ import annotations

import email.utils
import time

from cosync_worker.retry_after import retry_after_seconds


def test_seconds_dates_and_garbage() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": "-5"}) == 0.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25.0 <= (retry_after_seconds({"Retry-After": later}) or 0.0) <= 31.0
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}) == 0.0
    assert retry_after_seconds({"Retry-After": "soon, maybe"}) is None
    assert retry_after_seconds({}) is None
