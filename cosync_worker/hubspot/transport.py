"""The one door to HubSpot: bearer auth, the shared rate budget, retries, metrics and call counting.

The loop is :class:`~cosync_worker.remote_client.RemoteClient`'s; what is HubSpot's own:
* every request first draws from the rate budget (:mod:`.ratelimit`), search calls from the search bucket too;
* 429: waited out (``Retry-After``, else 1 s: a secondly limit frees within a second and the rolling 10 s
  window frees gradually); a throttled call waits its turn and is never dropped. Only a daily-limit 429, or
  one still throttled after ``max_throttled`` waits, becomes :class:`~cosync_worker.errors.Retry`;
* 5xx and connection errors: jittered exponential backoff up to ``max_retries``, then ``Retry``;
* other 4xx: :class:`.errors.HubSpotError` (a ``PermanentError``) with HubSpot's message and category.

Rate-limit headers and 429 semantics: https://developers.hubspot.com/docs/api/usage-details
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from cosync_worker.errors import Retry
from cosync_worker.remote_client import Answer, RemoteClient, RetryPolicy, StaticToken
from cosync_worker.store.base import Store

from .errors import error_from_response
from .ratelimit import RateBudget

__all__ = ["HubSpotTransport", "segment"]

_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_THROTTLE_WAIT = 1.0
_MAX_BACKOFF = 30.0


def segment(value: str, what: str) -> str:
    """One URL path segment from caller input: refuse empty values, escape everything else."""
    text = str(value).strip()
    if not text:
        raise ValueError(f"HubSpot {what} must not be empty")
    return quote(text, safe="")


def _query(params: Mapping[str, Any] | None) -> dict[str, str]:
    """HubSpot takes lists as comma-separated values (``properties=a,b``) and booleans in lower case."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, Sequence):
            if value:
                out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


class HubSpotTransport(RemoteClient):
    """Holds the session, the token and the budget; :meth:`request` is the only way out to HubSpot."""

    service = "hubspot"
    label = "HubSpot"
    budget: RateBudget

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        store: Store | None = None,
        requests_per_10s: int = 100,
        search_per_second: int = 5,
        max_retries: int = 6,
        session: aiohttp.ClientSession | None = None,
        budget_name: str | None = None,
        window_seconds: float = 10.0,
        backoff_base: float = 0.5,
        max_throttled: int = 50,
        timeout_seconds: float = 60.0,
    ) -> None:
        if not access_token:
            raise ValueError("HubSpot access token is empty")
        self._token = StaticToken(access_token)
        name = budget_name or hashlib.sha256(access_token.encode()).hexdigest()[:12]
        budget = RateBudget(
            name,
            store=store,
            requests_per_window=requests_per_10s,
            window_seconds=window_seconds,
            search_per_second=search_per_second,
        )
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=_MAX_BACKOFF,
            retryable=_RETRYABLE_STATUS,
            max_throttled=max_throttled,
            throttle_wait=_THROTTLE_WAIT,
        )
        super().__init__(
            base_url,
            tokens=self._token,
            policy=policy,
            budget=budget,
            timeout_seconds=timeout_seconds,
            session=session,
        )
        self.calls: Counter[str] = Counter()
        self._caches: dict[str, dict[str, tuple[float, Any]]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, budget={self.budget.key!r})"

    # -- small read caches (owners, pipeline stages) -------------------------------------------------
    def cached(self, kind: str, key: str) -> tuple[bool, Any]:
        """``(True, value)`` if ``kind/key`` was remembered and has not expired, else ``(False, None)``."""
        hit = self._caches.get(kind, {}).get(key)
        if hit is None or hit[0] <= time.monotonic():
            return False, None
        return True, hit[1]

    def remember(self, kind: str, key: str, value: Any, ttl_seconds: float) -> None:
        self._caches.setdefault(kind, {})[key] = (time.monotonic() + ttl_seconds, value)

    # -- the door -------------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        template: str | None = None,
    ) -> Any:
        """Send one call (with waits and retries); returns the parsed JSON body, or None for an empty body.

        ``template`` names the operation for ``calls`` and metrics (``"POST /crm/v3/objects/{objectType}/search"``);
        it defaults to ``path`` for ``calls`` (the metric then says ``other``, never a path with ids in it).
        A 207 (batch partly refused) is returned like a 200: batch callers read it.
        """
        if self._session is None:
            raise RuntimeError("HubSpotClient is not open: use 'async with' or await open()")
        if not path.startswith("/"):
            raise ValueError(f"HubSpot path must start with '/', got {path!r}")
        method = method.upper()
        operation = f"{method} {template or path}"
        answer = await self._call(
            method,
            self.base_url + path,
            operation=operation,
            metric_operation=operation if template else f"{method} other",
            json=json,
            params=_query(params),
        )
        if not answer.body:
            return None
        try:
            return jsonlib.loads(answer.body)
        except ValueError:
            raise Retry(f"HubSpot {operation}: HTTP {answer.status} with a body that is not JSON") from None

    async def _admit(self, operation: str) -> None:
        method, _, target = operation.partition(" ")
        await self.budget.acquire(search=method == "POST" and target.endswith("/search"))
        self.calls[operation] += 1

    def check_throttled(self, operation: str, answer: Answer) -> None:
        if _is_daily_limit(answer.body):
            raise Retry(f"HubSpot daily request limit reached on {operation}", defer=3600.0)

    def error(self, operation: str, answer: Answer) -> Exception:
        return error_from_response(
            answer.status, answer.body, operation=operation, secret=self._token.reveal()
        )


def _is_daily_limit(body: bytes) -> bool:
    """HubSpot names the policy it enforced; only the daily one is worth deferring the whole event for."""
    try:
        data = jsonlib.loads(body) if body else {}
    except ValueError:
        return False
    return isinstance(data, dict) and str(data.get("policyName", "")).upper() == "DAILY"
