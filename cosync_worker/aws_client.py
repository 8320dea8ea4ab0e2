"""One aiobotocore client owned by a core backend (the SQS queue, the DynamoDB store), opened and closed with it.

Both want botocore's "standard" retries (jittered backoff, throttling retried) but few of them: an unreachable
endpoint must surface within seconds as the backend's own "unavailable" error, so readiness turns red and the
relay stops acknowledging HubSpot promptly; the worker's loop retries anyway.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

__all__ = ["OwnedClient"]


class OwnedClient:
    """``await open()`` creates the client (no AWS call); ``client`` is ``None`` until then and after ``close()``."""

    def __init__(
        self,
        service: str,
        region: str,
        endpoint_url: str | None,
        session: AioSession | None,
        *,
        max_attempts: int,
        timeouts: tuple[float, float],
    ) -> None:
        """``timeouts``: (connect, read) in seconds."""
        connect_timeout, read_timeout = timeouts
        self.service = service
        self.region = region
        self.endpoint_url = endpoint_url
        self._config = AioConfig(
            retries={"max_attempts": max(1, max_attempts), "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._session = session or get_session()
        self._stack = AsyncExitStack()
        self.client: Any = None

    async def open(self) -> None:
        self.client = await self._stack.enter_async_context(
            self._session.create_client(
                self.service, region_name=self.region, endpoint_url=self.endpoint_url, config=self._config
            )
        )

    async def close(self) -> None:
        await self._stack.aclose()
        self.client = None
