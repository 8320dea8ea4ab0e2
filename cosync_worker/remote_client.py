"""``RemoteClient``: the one retry loop behind every HTTP API cosync calls (HubSpot, Google, Microsoft, ...).

A call is a loop of attempts. Before each attempt the client draws one token from its budget (so a retry is
paced like any other request and N replicas sharing a store stay under the API's limit together) and asks
its token source for a bearer token. Then:

* 2xx: the :class:`Answer` goes back to the subclass, which parses it.
* 401 with a refreshable token source: the refused token is refreshed (once for all concurrent callers) and
  the call repeated, once. A second 401, or one from a token that cannot be refreshed, is an error.
* 429: waits ``Retry-After`` (else the policy's ``throttle_wait``, else the backoff step). With
  ``max_throttled`` the waits are counted on their own (a throttled call waits its turn); without, a 429
  counts as a failure like a 5xx.
* a retryable status (5xx) or a connection error: jittered exponential backoff
  (:func:`~cosync_worker.worker.backoff.backoff_delay`), or the server's ``Retry-After`` when it sent one.
  After ``max_retries`` failures: :class:`~cosync_worker.errors.Retry` (the worker re-queues the event).
  A wait longer than ``max_inline_wait`` is not slept here: ``Retry(defer=wait)`` hands it to the worker.
* anything else: :meth:`RemoteClient.error`, which the subclass turns into its API's ``PermanentError``.

Every attempt is fenced (:func:`~cosync_worker.store.lease.fence`): a task whose lock lease ran out while it
waited for its turn stops with ``LeaseLost`` before sending, as it would before a store write.

A call made with ``idempotent=False`` (a create the API cannot deduplicate: no request id, no lookup) is sent
again only after an answer that proves it was not applied: a 429 (a quota refuses a request before serving
it), a 401, or a connection that could not be opened. A 5xx, a timeout or a connection lost after sending
leave its outcome unknown: :class:`OutcomeUnknown` is raised at once, never retried (a second request could
apply it twice). It is a ``PermanentError``, so an event that does not handle it is dead-lettered, not
redelivered.

Every attempt is counted in ``REMOTE_CALLS`` with closed label sets: ``service`` is the subclass's constant,
``operation`` a name from the subclass's code (never a URL with ids in it), ``outcome`` one of
:data:`OUTCOMES` (a status class).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import aiohttp
from multidict import CIMultiDict

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.logs import get_logger
from cosync_worker.metrics import REMOTE_CALLS
from cosync_worker.retry_after import retry_after_seconds
from cosync_worker.store.base import StoreUnavailable
from cosync_worker.store.lease import fence
from cosync_worker.worker.backoff import backoff_delay

__all__ = [
    "OUTCOMES",
    "Answer",
    "BearerTokens",
    "Budget",
    "Outcome",
    "OutcomeUnknown",
    "RemoteClient",
    "RetryPolicy",
    "StaticToken",
]

log = get_logger("cosync.remote")

Outcome = Literal["ok", "throttled", "unauthorized", "client_error", "server_error", "unreachable"]
OUTCOMES: frozenset[str] = frozenset(Outcome.__args__)  # type: ignore[attr-defined]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read whole (headers are case-insensitive)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 60.0
    retryable: frozenset[int] = frozenset({500, 502, 503, 504})
    max_throttled: int | None = None
    throttle_wait: float | None = 1.0
    max_inline_wait: float | None = None


class OutcomeUnknown(PermanentError):
    """A non-idempotent call was sent and no answer says whether it was applied; it was not sent again."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"{operation}: outcome unknown ({reason}); not retried, it may have been applied")
        self.operation = operation


class BearerTokens(Protocol):
    """Where the bearer token comes from; ``refreshable`` is False for a token configured by hand."""

    @property
    def refreshable(self) -> bool: ...

    async def token(self, refused: str | None = None) -> str:
        """A valid token. ``refused`` is one the API just answered 401 to: replace it unless already replaced."""
        ...


class Budget(Protocol):
    async def acquire(self) -> None:
        """Wait until one request may be sent; ``StoreUnavailable`` if the shared store is down."""
        ...


class StaticToken:
    """A token that cannot be refreshed; ``repr``/``str`` never show it."""

    __slots__ = ("_value",)
    refreshable = False

    def __init__(self, value: str) -> None:
        self._value = value

    async def token(self, refused: str | None = None) -> str:
        return self._value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret ***>"

    __str__ = __repr__


class RemoteClient:
    """Session lifecycle and :meth:`_call`; subclasses set ``service``/``label`` and implement :meth:`error`."""

    service: ClassVar[str]  # the metric's service label: a constant per subclass
    label: ClassVar[str]  # the service's name in error messages

    def __init__(
        self,
        base_url: str,
        *,
        tokens: BearerTokens | None,
        policy: RetryPolicy | None = None,
        budget: Budget | None = None,
        timeout_seconds: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{self.label} base URL must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.policy = policy or RetryPolicy()
        self.budget = budget
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.throttled = 0
        self._session = session
        self._owns_session = session is None
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._rng = rng

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._owns_session = True

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Any:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- for subclasses -----------------------------------------------------------------------------
    def error(self, operation: str, answer: Answer) -> Exception:
        """The exception for a refused call (a 4xx, or a status the policy does not retry)."""
        return PermanentError(f"{self.label} {operation}: HTTP {answer.status}")

    def describe(self, answer: Answer) -> str:
        """The API's own words for a failed answer, added to a give-up message; '' when they may echo secrets."""
        return ""

    def check_throttled(self, operation: str, answer: Answer) -> None:
        """Raise for a 429 that waiting cannot fix (HubSpot's daily limit); the default waits every one out."""

    def _opened(self) -> bool:
        """Whether :meth:`open` has run; a subclass whose :meth:`_send` is not aiohttp's answers for itself."""
        return self._session is not None

    async def _admit(self, operation: str) -> None:
        """Wait for the budget's turn to send one attempt."""
        if self.budget is not None:
            await self.budget.acquire()

    # -- the loop -----------------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        metric_operation: str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Answer:
        """One call with its waits and retries; returns a 2xx answer or raises ``Retry``/:meth:`error`
        (or :class:`OutcomeUnknown` for a non-idempotent call that may have been applied)."""
        if not self._opened():
            raise RuntimeError(f"{type(self).__name__} is not open: use 'async with' or await open()")
        metric = metric_operation or operation
        failures = throttled = 0
        refused: str | None = None
        while True:
            try:
                await self._admit(operation)
            except StoreUnavailable as exc:
                # Without the shared budget we cannot know it is our turn; sending anyway could starve peers.
                raise Retry(f"{self.label} {operation}: rate budget unavailable ({exc})") from None
            # The wait for a turn can outlast a lock's lease: a holder that lost it (another replica now works
            # on the same deal) must not write to the remote side either, only the new holder may.
            await fence()
            token = await self.tokens.token(refused) if self.tokens is not None else None
            try:
                answer = await self._send(method, url, token, json=json, params=params, headers=headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._count(metric, "unreachable")
                # A connection that could not be opened carried nothing; any other failure may come after
                # the server received the request.
                if not idempotent and not isinstance(exc, aiohttp.ClientConnectorError):
                    raise OutcomeUnknown(f"{self.label} {operation}", type(exc).__name__) from None
                failures += 1
                await self._pause(operation, failures, f"unreachable ({type(exc).__name__})", None)
                continue
            status = answer.status
            if 200 <= status < 300:
                self._count(metric, "ok")
                return answer
            wait = retry_after_seconds(answer.headers)
            if status == 401 and self._may_refresh(token, refused):
                # Revoked or expired early: refresh (shared by concurrent callers) and repeat the call once.
                self._count(metric, "unauthorized")
                refused = token
                continue
            if status == 429:
                self._count(metric, "throttled")
                self.throttled += 1
                self.check_throttled(operation, answer)
                wait = wait if wait is not None else self.policy.throttle_wait
                if self.policy.max_throttled is None:
                    failures += 1
                    await self._pause(operation, failures, self._detail(answer), wait)
                    continue
                throttled += 1
                if throttled > self.policy.max_throttled:
                    raise Retry(
                        f"{self.label} still throttling {operation} after {throttled} waits", defer=wait
                    )
                log.info(f"{self.service}.throttled", operation=operation, wait_seconds=wait)
                await self._sleep(wait or 0.0)
                continue
            if status in self.policy.retryable:
                self._count(metric, "server_error")
                if not idempotent:
                    raise OutcomeUnknown(f"{self.label} {operation}", self._detail(answer))
                failures += 1
                await self._pause(operation, failures, self._detail(answer), wait)
                continue
            self._count(metric, "unauthorized" if status == 401 else _status_class(status))
            raise self.error(operation, answer)

    def _may_refresh(self, token: str | None, refused: str | None) -> bool:
        return token is not None and refused is None and self.tokens is not None and self.tokens.refreshable

    async def _send(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Answer:
        assert self._session is not None
        sent = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self._session.request(
            method, url, json=json, params=params, headers=sent, timeout=self.timeout
        ) as resp:
            return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())

    def _detail(self, answer: Answer) -> str:
        words = self.describe(answer)
        return f"HTTP {answer.status} {words}" if words else f"HTTP {answer.status}"

    async def _pause(self, operation: str, failures: int, detail: str, wait: float | None) -> None:
        """Sleep before the next attempt, or give up with ``Retry`` when the policy says so."""
        if failures > self.policy.max_retries:
            raise Retry(f"{self.label} {operation}: {detail} (gave up after {failures} attempts)", defer=wait)
        # Jitter keeps N replicas that failed together from retrying in lock step.
        policy = self.policy
        delay = (
            wait
            if wait is not None
            else backoff_delay(failures, policy.backoff_base, policy.backoff_cap, self._rng)
        )
        if policy.max_inline_wait is not None and delay > policy.max_inline_wait:
            raise Retry(f"{self.label} {operation}: {detail}, asked to wait {delay:g} s", defer=delay)
        log.warning(
            f"{self.service}.retrying",
            operation=operation,
            reason=detail,
            attempt=failures,
            delay_seconds=round(delay, 3),
        )
        await self._sleep(delay)

    def _count(self, operation: str, outcome: Outcome) -> None:
        REMOTE_CALLS.labels(service=self.service, operation=operation, outcome=outcome).inc()


def _status_class(status: int) -> Outcome:
    return "server_error" if status >= 500 else "client_error"
