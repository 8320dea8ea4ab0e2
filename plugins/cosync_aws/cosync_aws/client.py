"""``PartnerCentralClient``: the one object per process that talks to Partner Central.

It owns the aiobotocore ``partnercentral-selling`` client (botocore's *standard* retry mode for transient
faults), the write budget shared by every worker process through the state store's atomic token bucket
(Partner Central allows 1 write/s and 10,000 writes per rolling 24 h per partner account:
https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html), a read budget, write
priorities, the daily write counter metric, and assume-role credentials that refresh themselves.
"""

from __future__ import annotations

import asyncio
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
from botocore.exceptions import ClientError
from prometheus_client import Counter, Gauge

from cosync_worker.logs import get_logger
from cosync_worker.store import Store
from cosync_worker.store.budget import acquire

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
        self._waiting: dict[int, int] = {p: 0 for p in Priority}
        self._turn = asyncio.Condition()
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
        kwargs: dict[str, Any] = {
            "region_name": self.config.region,
            "config": AioConfig(
                retries={"mode": "standard", "total_max_attempts": 5},
                connect_timeout=10,
                # Enough connections that a write holding its budget token never queues behind reads.
                max_pool_connections=64,
                read_timeout=60,
            ),
        }
        if self.config.endpoint_url:
            kwargs["endpoint_url"] = self.config.endpoint_url
        if self.config.aws_access_key_id and self.config.aws_secret_access_key:
            kwargs["aws_access_key_id"] = self.config.aws_access_key_id.get()
            kwargs["aws_secret_access_key"] = self.config.aws_secret_access_key.get()
        self._client = await self._stack.enter_async_context(
            session.create_client("partnercentral-selling", **kwargs)
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
        self._client = None

    # -- budgets ------------------------------------------------------------------------------------
    async def _draw(self, budget: str, rate: float) -> None:
        await acquire(self.store, budget, rate * RATE_MARGIN, 1.0)

    async def _acquire_write(self, priority: Priority) -> None:
        """Wait for this process's turn (no lower-priority writer goes while a higher one waits), then for
        a token of the budget every process shares."""
        async with self._turn:
            self._waiting[priority] += 1
        try:
            async with self._turn:
                await self._turn.wait_for(
                    lambda: all(self._waiting[p] == 0 for p in Priority if p < priority)
                )
            daily = self.config.daily_write_cap / DAY
            daily_name = f"{self.budget_name}:daily"
            while (wait := await self.store.take_tokens(daily_name, daily, self.config.daily_write_cap)) > 0:
                log.warning("aws_daily_write_cap_reached", wait_seconds=round(wait, 1))
                await asyncio.sleep(min(wait, 60.0))
            # The per-second token last, right before the call: any delay between taking it and the request
            # reaching AWS eats into the spacing between two processes' writes.
            await self._draw(f"{self.budget_name}:writes", self.config.write_rate_per_second)
        finally:
            async with self._turn:
                self._waiting[priority] -= 1
                self._turn.notify_all()

    def _count_write(self) -> None:
        now = time.monotonic()
        self._recent_writes.append(now)
        while self._recent_writes and self._recent_writes[0] < now - DAY:
            self._recent_writes.popleft()
        count = len(self._recent_writes)
        DAILY_WRITES.set(count)
        today = datetime.now(UTC).date().isoformat()
        if (
            count >= self.config.daily_warning_ratio * self.config.daily_write_cap
            and self._warned_day != today
        ):
            self._warned_day = today
            log.warning("aws_daily_writes_near_cap", writes=count, cap=self.config.daily_write_cap)

    @property
    def writes_last_24h(self) -> int:
        return len(self._recent_writes)

    # -- calls --------------------------------------------------------------------------------------
    async def call(
        self, operation: str, priority: Priority = Priority.UPDATE, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` (e.g. ``"GetOpportunity"``) with ``Catalog`` added; raises PartnerCentralError."""
        if self._client is None:
            raise RuntimeError("PartnerCentralClient is not open")
        is_write = operation in WRITE_OPERATIONS
        if is_write:
            await self._acquire_write(priority)
        else:
            await self._draw(f"{self.budget_name}:reads", self.config.read_rate_per_second)
        method: Callable[..., Any] = getattr(self._client, _snake(operation))
        metric = WRITES if is_write else READS
        self.calls[operation] = self.calls.get(operation, 0) + 1
        try:
            result: dict[str, Any] = await method(Catalog=self.config.catalog, **params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            metric.labels(operation=operation, outcome="error").inc()
            raise PartnerCentralError(
                operation, str(err.get("Code", "")), str(err.get("Message", ""))
            ) from None
        metric.labels(operation=operation, outcome="ok").inc()
        if is_write:
            self._count_write()
        result.pop("ResponseMetadata", None)
        return result

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
