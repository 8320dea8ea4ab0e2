"""One factory fixture that opens a queue on either backend: ``local`` on a tmp file, ``sqs`` on moto's server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from cosync_worker.queue import Message, Queue
from cosync_worker.queue.local import LocalQueue
from cosync_worker.queue.sqs import SqsQueue, ensure_queues

__all__ = ["MakeQueue", "receive_all"]

MakeQueue = Callable[..., Awaitable[Queue]]


@pytest.fixture(params=["local", "sqs"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_queue(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MakeQueue]:
    """``await make_queue(visibility_timeout=1, max_receives=5)`` → an opened queue, closed after the test.

    Every call on the SQS backend creates a fresh FIFO queue + DLQ whose redrive policy uses ``max_receives``.
    """
    opened: list[Queue] = []
    endpoint = request.getfixturevalue("moto_endpoint") if backend == "sqs" else ""

    async def make(
        visibility_timeout: float = 1.0, max_receives: int = 5, *, serialized: bool = False
    ) -> Queue:
        """``serialized``: on SQS, a moto server that answers one request at a time (its receive is not atomic
        under concurrent requests, which real SQS's is)."""
        queue: Queue
        url_of = (
            request.getfixturevalue("serialized_moto_endpoint")
            if serialized and backend == "sqs"
            else endpoint
        )
        if backend == "local":
            queue = LocalQueue(
                tmp_path / f"q-{uuid.uuid4().hex[:8]}.db",
                visibility_timeout=visibility_timeout,
                max_receives=max_receives,
                poll_interval=0.02,
            )
        else:
            url, dlq = await ensure_queues(
                f"t-{uuid.uuid4().hex[:12]}",
                endpoint_url=url_of,
                max_receives=max_receives,
                visibility_timeout=int(visibility_timeout),
            )
            queue = SqsQueue(
                url,
                dlq_url=dlq,
                endpoint_url=url_of,
                visibility_timeout=visibility_timeout,
                max_receives=max_receives,
            )
        await queue.open()  # type: ignore[attr-defined]
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        await queue.close()


async def receive_all(queue: Queue, count: int, *, wait: float = 3.0) -> list[Message]:
    """Receive until ``count`` messages arrived or ``wait`` passes (SQS may hand out fewer per call)."""
    import time

    got: list[Message] = []
    deadline = time.monotonic() + wait
    while len(got) < count and time.monotonic() < deadline:
        got.extend(await queue.receive(10, wait_seconds=min(1.0, max(0.0, deadline - time.monotonic()))))
    return got
