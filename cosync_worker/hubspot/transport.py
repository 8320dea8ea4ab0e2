"""The one door to HubSpot: bearer auth, the shared rate budget, retries, metrics and call counting.

Every request first draws from the rate budget (:mod:`.ratelimit`). Then:
* 429: wait for ``Retry-After`` (or the rate-limit headers) and send again; a throttled call waits its turn and is
  never dropped. Only a daily-limit 429, or one still throttled after ``max_throttled`` waits, becomes
  :class:`~cosync_worker.errors.Retry` (the worker re-queues the event, still not dropped).
* 5xx and connection errors: jittered exponential backoff up to ``max_retries``, then ``Retry``.
* other 4xx: :class:`.errors.HubSpotError` (a ``PermanentError``) with HubSpot's message and category.

Rate-limit headers and 429 semantics: https://developers.hubspot.com/docs/api/usage-details
"""

from __future__ import annotations

import asyncio
import hashlib
import json as jsonlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from cosync_worker.errors import Retry
from cosync_worker.logs import get_logger
from cosync_worker.metrics import REMOTE_CALLS
from cosync_worker.retry_after import retry_after_seconds
from cosync_worker.store.base import Store, StoreUnavailable
from cosync_worker.worker.backoff import backoff_delay

from .errors import error_from_response
from .ratelimit import RateBudget

__all__ = ["HubSpotTransport", "segment"]

log = get_logger("cosync.hubspot")

_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_DEFAULT_THROTTLE_WAIT = 1.0
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


def _retry_after(headers: Mapping[str, str], default: float) -> float:
    given = retry_after_seconds(headers)
    if given is not None:
        return given
    # No Retry-After: a secondly limit frees within a second; the rolling 10 s window frees gradually.
    if headers.get("X-HubSpot-RateLimit-Secondly-Remaining") == "0":
        return 1.0
    return default


class _Secret:
    """Holds the token so that ``repr``/``vars``/traceback locals of the client show ``***``, never the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret ***>"

    __str__ = __repr__


class HubSpotTransport:
    """Holds the session, the token and the budget; :meth:`request` is the only way out to HubSpot."""

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
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"HubSpot base URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._token = _Secret(access_token)
        name = budget_name or hashlib.sha256(access_token.encode()).hexdigest()[:12]
        self.budget = RateBudget(
            name,
            store=store,
            requests_per_window=requests_per_10s,
            window_seconds=window_seconds,
            search_per_second=search_per_second,
        )
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_throttled = max_throttled
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.calls: Counter[str] = Counter()
        self.throttled = 0
        self._session = session
        self._owns_session = session is None
        self._caches: dict[str, dict[str, tuple[float, Any]]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, budget={self.budget.key!r})"

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._owns_session = True

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HubSpotTransport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
        it defaults to ``path``. A 207 (batch partly refused) is returned like a 200: batch callers read it.
        """
        if self._session is None:
            raise RuntimeError("HubSpotClient is not open: use 'async with' or await open()")
        if not path.startswith("/"):
            raise ValueError(f"HubSpot path must start with '/', got {path!r}")
        method = method.upper()
        operation = f"{method} {template or path}"
        search = method == "POST" and (template or path).endswith("/search")
        query = _query(params)
        failures = 0
        throttled = 0
        while True:
            try:
                await self.budget.acquire(search=search)
            except StoreUnavailable as exc:
                # Without the shared budget we cannot know it is our turn; sending anyway could starve peers.
                raise Retry(f"HubSpot {operation}: rate budget unavailable ({exc})") from None
            self.calls[operation] += 1
            try:
                status, headers, body = await self._send(method, path, json, query)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._count(operation, "error")
                failures += 1
                reason = f"HubSpot {operation}: {type(exc).__name__}"
                await self._backoff_or_give_up(failures, reason)
                continue
            if status == 429:
                self._count(operation, "throttled")
                self.throttled += 1
                throttled += 1
                wait = _retry_after(headers, _DEFAULT_THROTTLE_WAIT)
                if _is_daily_limit(body):
                    raise Retry(f"HubSpot daily request limit reached on {operation}", defer=3600.0)
                if throttled > self.max_throttled:
                    raise Retry(f"HubSpot still throttling {operation} after {throttled} waits", defer=wait)
                log.info("hubspot.throttled", operation=operation, wait_seconds=wait)
                await asyncio.sleep(wait)
                continue
            if status in _RETRYABLE_STATUS:
                self._count(operation, "error")
                failures += 1
                await self._backoff_or_give_up(failures, f"HubSpot {operation}: HTTP {status}")
                continue
            if status >= 400:
                self._count(operation, "error")
                raise error_from_response(status, body, operation=operation, secret=self._token.reveal())
            self._count(operation, "ok")
            if not body:
                return None
            try:
                return jsonlib.loads(body)
            except ValueError:
                raise Retry(f"HubSpot {operation}: HTTP {status} with a body that is not JSON") from None

    async def _send(
        self, method: str, path: str, json: Any, query: dict[str, str]
    ) -> tuple[int, Mapping[str, str], bytes]:
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json"}
        async with self._session.request(
            method, self.base_url + path, json=json, params=query, headers=headers, timeout=self.timeout
        ) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def _backoff_or_give_up(self, failures: int, reason: str) -> None:
        if failures > self.max_retries:
            raise Retry(f"{reason} (gave up after {failures} attempts)")
        # Jitter keeps N replicas that failed together from retrying in lock step.
        delay = backoff_delay(failures, self.backoff_base, _MAX_BACKOFF)
        log.warning("hubspot.retrying", reason=reason, attempt=failures, delay_seconds=round(delay, 3))
        await asyncio.sleep(delay)

    @staticmethod
    def _count(operation: str, outcome: str) -> None:
        REMOTE_CALLS.labels(service="hubspot", operation=operation, outcome=outcome).inc()


def _is_daily_limit(body: bytes) -> bool:
    """HubSpot names the policy it enforced; only the daily one is worth deferring the whole event for."""
    try:
        data = jsonlib.loads(body) if body else {}
    except ValueError:
        return False
    return isinstance(data, dict) and str(data.get("policyName", "")).upper() == "DAILY"
