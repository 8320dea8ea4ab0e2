"""``PartnerCentralClient``: the one object per process that talks to Partner Central.

A :class:`~cosync_worker.connector.RemoteClient`: the core's one retry loop (backoff with jitter, the
``REMOTE_CALLS`` metric under service ``partnercentral``, ``Retry`` once the attempts are spent). The network
step is a botocore call instead of an HTTP request: a ``ClientError`` becomes an answer the loop understands
(throttling as 429, a 5xx as itself, the rest as a 4xx it turns into :class:`PartnerCentralError`), and a
connection that gave no answer is retried like an unreachable host. Both aiobotocore ``partnercentral-selling``
clients make one attempt per call (botocore's own retries would go out without drawing a token); writes have
their own pool, so a write holding its budget token never queues behind reads.

Before every attempt the loop draws from the budgets shared by every worker process through the state store's
atomic token buckets: a write from the daily and per-second write budgets, in the order of the account's
:class:`~cosync_worker.write_scheduler.WriteScheduler`, global across processes (Partner Central allows 1 write/s and 10,000 writes per rolling 24 h per partner account:
https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html), a read from the read budget.
Credentials come from the config or from ``sts:AssumeRole``, refreshing themselves.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from prometheus_client import Counter, Gauge

from cosync_worker.connector import Answer, AnswerSpacing, RemoteClient, RetryPolicy, WriteScheduler
from cosync_worker.logs import get_logger
from cosync_worker.store import Store, acquire

from .config import AwsConfig

__all__ = [
    "DAILY_WRITES",
    "WRITES",
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
# Reads stay a little under the published rate: clocks of different processes and the service never agree
# exactly. Writes need no margin: each leaves one interval after the previous write's answer (AnswerSpacing).
RATE_MARGIN = 0.9
# At the daily cap the write waits in the process (its event stays in flight, hidden by the worker's heartbeat)
# instead of going back to the queue, where retries would count towards the dead letter. It looks again this
# often, so a cap raised in another replica's config (a quota increase) is used without waiting the full wait.
DAILY_RECHECK_SECONDS = 2.0
# Attempts of one call (as botocore's standard mode), each after drawing its own token; full jitter doubling
# from 0.5 s as botocore's standard mode.
POLICY = RetryPolicy(
    max_retries=4,
    backoff_base=0.5,
    backoff_cap=8.0,
    retryable=frozenset(range(500, 600)),
    throttle_wait=None,
)
_THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
# The priority of the call being admitted: ``_admit`` is the loop's hook and takes only the operation.
_PRIORITY: ContextVar[int] = ContextVar("cosync_aws_priority", default=1)

# Every write attempt (each drew a token of the daily quota): ``cosync status`` and the console read
# ``cosync_<connector>_writes_total`` as the connector's writes in 24 h. Calls by outcome are REMOTE_CALLS.
WRITES = Counter("cosync_aws_writes_total", "Partner Central write attempts by operation", ["operation"])
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


@dataclass(frozen=True, slots=True)
class BotoAnswer(Answer):
    """A botocore call's outcome as the loop's answer: the parsed result, or the error's code and message."""

    result: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""


def _status_of(exc: ClientError) -> int:
    """The status the loop acts on: a throttle is a 429 whatever AWS sent (it sends 400), a 5xx stays one."""
    if error_code(exc) in _THROTTLING:
        return 429
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status if 400 <= status < 600 else 400


class PartnerCentralClient(RemoteClient):
    """``async with PartnerCentralClient(config, store) as pc: await pc.call("GetOpportunity", ...)``.

    ``Catalog`` is added to every call from the config. Write calls first wait for their turn (the account's
    write scheduler, shared by every process), then draw from the shared budget.
    """

    service = "partnercentral"
    label = "Partner Central"

    def __init__(
        self,
        config: AwsConfig,
        store: Store,
        *,
        budget_name: str | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        # The URL names the endpoint in messages only: botocore resolves the real one from region and config.
        super().__init__(
            config.endpoint_url or f"https://partnercentral-selling.{config.region}.api.aws",
            tokens=None,
            policy=POLICY,
            sleep=sleep,
        )
        self.config = config
        self.store = store
        self.budget_name = budget_name or f"aws:pc:{config.catalog}:{config.endpoint_url or 'aws'}"
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._writer: Any = None
        # Every write waits for its turn here, in one order shared by every process (the store's index).
        self.scheduler = WriteScheduler(
            store, self.budget_name, self._draw_write, interval_seconds=1.0 / config.write_rate_per_second
        )
        # Partner Central counts a write when it arrives, which only its answer proves has happened.
        self.spacing = AnswerSpacing(
            store, f"{self.budget_name}:in-flight", 1.0 / config.write_rate_per_second
        )
        self._recent_writes: deque[float] = deque()
        self._warned_day = ""
        self.calls: dict[str, int] = {}

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
        # One attempt per call: the loop retries, drawing a token each time. botocore's own retry of a write
        # after a 5xx would go out without one and could exceed the shared 1/s quota.
        config = AioConfig(
            retries={"total_max_attempts": 1}, max_pool_connections=32, connect_timeout=10, read_timeout=60
        )
        self._client = await self._stack.enter_async_context(
            session.create_client("partnercentral-selling", config=config, **kwargs)
        )
        self._writer = await self._stack.enter_async_context(
            session.create_client("partnercentral-selling", config=config, **kwargs)
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
        await self.scheduler.close()
        await self._stack.aclose()
        self._client = self._writer = None

    def _opened(self) -> bool:
        return self._client is not None and self._writer is not None

    # -- budgets: drawn before every attempt ---------------------------------------------------------
    async def _admit(self, operation: str) -> None:
        if operation in WRITE_OPERATIONS:
            await self._acquire_write(_PRIORITY.get())
        else:
            await self._draw(f"{self.budget_name}:reads", self.config.read_rate_per_second)

    async def _draw(self, budget: str, rate: float, margin: float = RATE_MARGIN) -> None:
        await acquire(self.store, budget, rate * margin, 1.0)

    async def _acquire_write(self, priority: int) -> None:
        """The account's write scheduler gives the turn (best priority first, then age, across every process
        sharing the store); the turn's holder then draws a token of the daily and per-second budgets."""
        await self.scheduler.admit(priority)

    async def _draw_write(self) -> None:
        await self._draw_daily()
        # One token per attempt of the per-second budget; the exact spacing is the answer's (``_send``).
        await self._draw(f"{self.budget_name}:writes", self.config.write_rate_per_second, 1.0)

    def turn(self, key: str, priority: Priority = Priority.UPDATE) -> AbstractAsyncContextManager[None]:
        """``async with pc.turn(deal_id, Priority.UPDATE):`` wait until this object is the most urgent one
        waiting to be written and a write can be sent, then read it and write it inside. A change that lands
        while the object waits is seen by that read: it costs no write of its own."""
        return self.scheduler.turn(key, int(priority))

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

    # -- the loop's network step and its errors --------------------------------------------------------
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
        """One botocore call: ``method`` is the operation, ``json`` its parameters."""
        client = self._writer if method in WRITE_OPERATIONS else self._client
        call: Callable[..., Any] = getattr(client, _snake(method))
        self.calls[method] = self.calls.get(method, 0) + 1
        if method in WRITE_OPERATIONS:
            WRITES.labels(operation=method).inc()
        try:
            if method in WRITE_OPERATIONS:
                async with self.spacing.slot():
                    result: dict[str, Any] = await call(Catalog=self.config.catalog, **json)
            else:
                result = await call(Catalog=self.config.catalog, **json)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            return BotoAnswer(
                _status_of(exc), {}, b"", code=str(err.get("Code", "")), message=str(err.get("Message", ""))
            )
        except (HTTPClientError, BotoConnectionError) as exc:
            # No answer (connection refused or reset, timeouts): retried as an unreachable host; a write that
            # did land is caught by its ClientToken or its LastModifiedDate.
            raise aiohttp.ClientConnectionError(type(exc).__name__) from exc
        result.pop("ResponseMetadata", None)
        return BotoAnswer(200, {}, b"", result=result)

    def error(self, operation: str, answer: Answer) -> Exception:
        assert isinstance(answer, BotoAnswer)
        return PartnerCentralError(operation, answer.code, answer.message)

    def describe(self, answer: Answer) -> str:
        return answer.code if isinstance(answer, BotoAnswer) else ""

    # -- calls --------------------------------------------------------------------------------------
    async def call(
        self, operation: str, priority: Priority = Priority.UPDATE, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` (e.g. ``"GetOpportunity"``) with ``Catalog`` added. Raises PartnerCentralError
        for an error answer, ``Retry`` once throttling, 5xx or no answer outlast the attempts."""
        token = _PRIORITY.set(int(priority))
        try:
            answer = await self._call(operation, self.base_url, operation=operation, json=params)
        finally:
            _PRIORITY.reset(token)
        assert isinstance(answer, BotoAnswer)
        if operation in WRITE_OPERATIONS:
            self._count_write()
            # One line per write: the deployment's daily-write alarm counts these (infra/cdk alarms.py).
            log.info("partnercentral.write", operation=operation, catalog=self.config.catalog)
        return answer.result

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
