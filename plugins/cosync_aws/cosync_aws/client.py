"""``PartnerCentralClient``: the one object per process that talks to Partner Central.

It owns the aiobotocore ``partnercentral-selling`` clients (reads: botocore's *standard* retry mode for
transient faults; writes: one attempt per budget token, retried here, so a retry is paced like any write), the
write budget shared by every worker process through the state store's atomic token bucket
(Partner Central allows 1 write/s and 10,000 writes per rolling 24 h per partner account:
https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html), a read budget, write
priorities, the daily write counter metric, and assume-role credentials that refresh themselves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import deque
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError, HTTPClientError
from prometheus_client import Counter, Gauge

from cosync_worker.logs import get_logger
from cosync_worker.store import Store, acquire

from .config import AwsConfig

__all__ = [
    "DAILY_WRITES",
    "WRITE_OPERATIONS",
    "PartnerCentralClient",
    "PartnerCentralError",
    "Priority",
    "error_code",
]

log = get_logger("cosync.aws")

# The write actions of the quota page (they share one budget), plus the other state-changing calls.
WRITE_OPERATIONS = frozenset(
    {
        "CreateOpportunity",
        "UpdateOpportunity",
        "AssociateOpportunity",
        "DisassociateOpportunity",
        "AssignOpportunity",
        "AcceptEngagementInvitation",
        "RejectEngagementInvitation",
        "StartEngagementFromOpportunityTask",
        "StartEngagementByAcceptingInvitationTask",
        "SubmitOpportunity",
        "CreateResourceSnapshot",
    }
)
DAY = 86_400.0
# Stay a little under the published rate: clocks of different processes and the service never agree exactly.
RATE_MARGIN = 0.9
# At the daily cap the write waits in the process (its event stays in flight, hidden by the worker's heartbeat)
# instead of going back to the queue, where retries would count towards the dead letter. It looks again this
# often, so a cap raised in another replica's config (a quota increase) is used without waiting the full wait.
DAILY_RECHECK_SECONDS = 2.0
# Attempts of one write (botocore's standard mode makes 5 as well), each after drawing its own token.
WRITE_ATTEMPTS = 5
_THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})

WRITES = Counter(
    "cosync_aws_writes_total", "Partner Central write calls by operation", ["operation", "outcome"]
)
READS = Counter("cosync_aws_reads_total", "Partner Central read calls by operation", ["operation", "outcome"])
DAILY_WRITES = Gauge(
    "cosync_aws_daily_writes", "Partner Central writes of this process in the last 24 h (quota: 10,000/24 h)"
)


class Priority(IntEnum):
    """Lower runs first when writes queue for the budget."""

    CREATE = 0  # creations, invitation acceptances, submissions: a rep or AWS is waiting
    UPDATE = 1  # a rep's change in HubSpot
    BACKGROUND = 2  # reconciliation and summary-driven writes


class PartnerCentralError(Exception):
    """A Partner Central error answer with its code (``ConflictException``, ``ValidationException``, ...)."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message


def error_code(exc: BaseException) -> str:
    if isinstance(exc, PartnerCentralError):
        return exc.code
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class PartnerCentralClient:
    """``async with PartnerCentralClient(config, store) as pc: await pc.call("GetOpportunity", ...)``.

    ``Catalog`` is added to every call from the config. Write calls first draw from the shared budget, in
    priority order within this process.
    """

    def __init__(self, config: AwsConfig, store: Store, *, budget_name: str | None = None) -> None:
        self.config = config
        self.store = store
        self.budget_name = budget_name or f"aws:pc:{config.catalog}:{config.endpoint_url or 'aws'}"
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._writer: Any = None
        # Writers of this process waiting for the budget: (priority, arrival, future). One at a time holds
        # the turn and draws from the shared buckets; when it has its token the best waiter goes next.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._turn_taken = False
        self._recent_writes: deque[float] = deque()
        self._warned_day = ""
        self.calls: dict[str, int] = {}

    async def __aenter__(self) -> PartnerCentralClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        session = get_session()
        if self.config.role_arn:
            session = await self._assume_role_session(session)
        kwargs: dict[str, Any] = {"region_name": self.config.region}
        if self.config.endpoint_url:
            kwargs["endpoint_url"] = self.config.endpoint_url
        if self.config.aws_access_key_id and self.config.aws_secret_access_key:
            kwargs["aws_access_key_id"] = self.config.aws_access_key_id.get()
            kwargs["aws_secret_access_key"] = self.config.aws_secret_access_key.get()
        timeouts: dict[str, Any] = {"connect_timeout": 10, "read_timeout": 60}
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "partnercentral-selling",
                config=AioConfig(
                    retries={"mode": "standard", "total_max_attempts": 5}, max_pool_connections=32, **timeouts
                ),
                **kwargs,
            )
        )
        # Its own pool: a write holding its budget token never queues behind reads. One attempt per call:
        # botocore's own retry of a write after a 5xx would go out without a token and could exceed the
        # shared 1/s quota; call() retries instead, drawing again.
        self._writer = await self._stack.enter_async_context(
            session.create_client(
                "partnercentral-selling",
                config=AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=32, **timeouts),
                **kwargs,
            )
        )

    async def _assume_role_session(self, base: AioSession) -> AioSession:
        """A session whose credentials come from ``sts:AssumeRole`` (with ``ExternalId``) and refresh
        themselves before they expire (aiobotocore's refreshable credentials)."""
        role_arn = self.config.role_arn
        assert role_arn is not None
        external = self.config.external_id.get() if self.config.external_id else None

        async def refresh() -> dict[str, str]:
            params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "cosync-aws"}
            if external:
                params["ExternalId"] = external
            async with base.create_client("sts", region_name=self.config.region) as sts:
                creds = (await sts.assume_role(**params))["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = AioRefreshableCredentials.create_from_metadata(
            metadata=await refresh(), refresh_using=refresh, method="sts-assume-role"
        )
        session = get_session()
        session._credentials = credentials
        return session

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = self._writer = None

    # -- budgets ------------------------------------------------------------------------------------
    async def _draw(self, budget: str, rate: float) -> None:
        await acquire(self.store, budget, rate * RATE_MARGIN, 1.0)

    async def _acquire_write(self, priority: Priority) -> None:
        """Wait for this process's turn, best priority first (then arrival), then for a token of the daily and
        the per-second budgets every process shares. Only the writer holding the turn polls the store, so a
        creation that arrives behind a hundred queued background writes is the next one to draw."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._arrivals), fut))
        self._pass_turn()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release_turn()  # the turn was handed over just as we were cancelled
            raise
        try:
            await self._draw_daily()
            # The per-second token last, right before the call: any delay between taking it and the request
            # reaching AWS eats into the spacing between two processes' writes.
            await self._draw(f"{self.budget_name}:writes", self.config.write_rate_per_second)
        finally:
            self._release_turn()

    def _pass_turn(self) -> None:
        while not self._turn_taken and self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():  # a cancelled waiter is skipped
                self._turn_taken = True
                fut.set_result(None)

    def _release_turn(self) -> None:
        self._turn_taken = False
        self._pass_turn()

    async def _draw_daily(self) -> None:
        """The rolling 24 h quota as a bucket of ``daily_write_cap`` refilled over a day, shared by every
        process; a second, smaller bucket of the same refill empties once ``daily_warning_ratio`` of the cap is
        used, which is how a process learns the deployment's count is near the cap without reading it."""
        cap = self.config.daily_write_cap
        rate = cap / DAY
        logged = False
        while (wait := await self.store.take_tokens(f"{self.budget_name}:daily", rate, cap)) > 0:
            if not logged:
                log.warning("aws_daily_write_cap_reached", cap=cap, wait_seconds=round(wait, 1))
                logged = True
            await asyncio.sleep(min(wait, DAILY_RECHECK_SECONDS))
        warn_at = max(1, math.ceil(self.config.daily_warning_ratio * cap))
        if await self.store.take_tokens(f"{self.budget_name}:daily-warning", rate, warn_at) > 0:
            today = datetime.now(UTC).date().isoformat()
            if self._warned_day != today:
                self._warned_day = today
                log.warning(
                    "aws_daily_writes_near_cap",
                    cap=cap,
                    warning_at=warn_at,
                    process_writes_24h=len(self._recent_writes) + 1,
                )

    def _count_write(self) -> None:
        now = time.monotonic()
        self._recent_writes.append(now)
        while self._recent_writes and self._recent_writes[0] < now - DAY:
            self._recent_writes.popleft()
        DAILY_WRITES.set(len(self._recent_writes))

    @property
    def writes_last_24h(self) -> int:
        return len(self._recent_writes)

    # -- calls --------------------------------------------------------------------------------------
    async def call(
        self, operation: str, priority: Priority = Priority.UPDATE, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` (e.g. ``"GetOpportunity"``) with ``Catalog`` added; raises PartnerCentralError."""
        if self._client is None or self._writer is None:
            raise RuntimeError("PartnerCentralClient is not open")
        is_write = operation in WRITE_OPERATIONS
        metric = WRITES if is_write else READS
        attempts = WRITE_ATTEMPTS if is_write else 1
        for attempt in range(1, attempts + 1):
            if is_write:
                await self._acquire_write(priority)
            else:
                await self._draw(f"{self.budget_name}:reads", self.config.read_rate_per_second)
            client = self._writer if is_write else self._client
            method: Callable[..., Any] = getattr(client, _snake(operation))
            self.calls[operation] = self.calls.get(operation, 0) + 1
            try:
                result: dict[str, Any] = await method(Catalog=self.config.catalog, **params)
            except ClientError as exc:
                metric.labels(operation=operation, outcome="error").inc()
                if attempt < attempts and _transient(exc):
                    await asyncio.sleep(_backoff(attempt))
                    continue
                err = exc.response.get("Error", {})
                raise PartnerCentralError(
                    operation, str(err.get("Code", "")), str(err.get("Message", ""))
                ) from None
            except HTTPClientError:
                # No answer (connection reset, read timeout): as botocore's standard mode, try again; a
                # write that did land is caught by its ClientToken or its LastModifiedDate.
                metric.labels(operation=operation, outcome="error").inc()
                if attempt < attempts:
                    await asyncio.sleep(_backoff(attempt))
                    continue
                raise
            metric.labels(operation=operation, outcome="ok").inc()
            if is_write:
                self._count_write()
                # One line per write: the deployment's daily-write alarm counts these (infra/cdk alarms.py).
                log.info("partnercentral.write", operation=operation, catalog=self.config.catalog)
            result.pop("ResponseMetadata", None)
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def paginate(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item under ``key`` across ``NextToken`` pages."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = await self.call(operation, Priority.BACKGROUND, **params, **extra)
            items.extend(page.get(key) or [])
            token = page.get("NextToken")
            if not token:
                return items


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _transient(exc: ClientError) -> bool:
    """Worth another attempt: a throttle or a server error (what botocore's standard mode retries)."""
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or str(exc.response.get("Error", {}).get("Code", "")) in _THROTTLING


def _backoff(attempt: int) -> float:
    """Full jitter, as botocore's standard mode: up to 0.5 s, 1 s, 2 s, 4 s."""
    return random.uniform(0, min(8.0, 0.25 * 2**attempt))
